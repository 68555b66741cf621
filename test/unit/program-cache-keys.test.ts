import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRoot } from '../../activities/code-files';
import { resolvePlan } from '../../activities/plan';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { downstreamOf } from '../../pipelines/core/graph';
import type { Plan, PipelineDefinition } from '../../pipelines/core/types';
import { sensorClusteringPipeline } from '../../pipelines/sensor-clustering/pipeline';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import { stepKinds } from '../../workers/kinds';
import { RunnerErrorType } from '../../workflows/definitions';
import { testTempDir } from '../harness/paths';

/**
 * "Output exists means this exact computation was done", for model code: a step's key covers the
 * program it runs (its model's folder, the shared models/lib and models/requirements.txt) and
 * nothing else, whether the step pins a commit or runs this build's files. Edits are made in copies
 * of this checkout's committed models/ (a fixture repository, copied builds), never in the tree.
 */

const steps = visitsScalingPipeline.steps;
/** The same pipeline with no step pinned: every program comes from the (copied) build. */
const unpinned: PipelineDefinition = {
  ...visitsScalingPipeline,
  steps: steps.map(({ repo: _repo, ...step }) => step),
};
const pipelines = createPipelineRegistry([visitsScalingPipeline]);
const unpinnedPipelines = createPipelineRegistry([unpinned]);

/** The steps whose spec names a file under `prefix`, with everything downstream of them. */
const expectedFrom = (prefix: string) => {
  const readers = steps.filter((step) => JSON.stringify(step.spec).includes(prefix)).map((step) => step.id);
  expect(readers.length, prefix).toBeGreaterThan(0);
  return new Set(readers.flatMap((id) => [...downstreamOf(steps, id)]));
};
const keys = (p: Plan) => new Map(p.steps.map((step) => [step.id, step.cacheKey]));
/** The ids whose keys differ between two plans. */
const changed = (a: Plan, b: Plan) => {
  const other = keys(b);
  expect(other.size).toBe(a.steps.length);
  return a.steps
    .filter((step) => step.cacheKey !== other.get(step.id))
    .map((step) => step.id)
    .sort();
};
const sorted = (set: Iterable<string>) => [...set].sort();

const request = (params: Record<string, string> = {}) => ({
  pipeline: 'visits-scaling',
  workflowId: 'visits-scaling/program-keys',
  startTime: '2026-11-23T09:00:00.000Z',
  cutoff: '2026-01-01',
  params,
});

let dir: string;
/** This checkout's committed models/, as a fresh folder. */
const committedModels = (into: string) => {
  mkdirSync(into, { recursive: true });
  const files = execFileSync('git', ['-C', buildRoot, 'archive', 'HEAD', 'models']);
  execFileSync('tar', ['-x', '-C', into], { input: files });
  return into;
};
beforeAll(() => {
  dir = testTempDir('program-keys');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unpinned steps: the key covers this build’s program files', () => {
  let base: string;
  let basePlan: Plan;
  let copies = 0;
  /** A copy of the base build with one change made to it. */
  const build = (change: (root: string) => void) => {
    const root = join(dir, `build-${(copies += 1)}`);
    cpSync(base, root, { recursive: true });
    change(root);
    return root;
  };
  const planIn = (root: string) =>
    resolvePlan({ pipelines: unpinnedPipelines, kinds: stepKinds, buildRoot: root }, request());

  beforeAll(async () => {
    base = committedModels(join(dir, 'build-base'));
    basePlan = await planIn(base);
  });

  it('planned twice from the same files, no key moves; the model steps carry no commit', async () => {
    expect(changed(basePlan, await planIn(build(() => undefined)))).toEqual([]);
    expect(basePlan.steps.every((step) => step.commit === undefined)).toBe(true);
  });

  it('an edited model file re-keys exactly the steps running that model and their downstream', async () => {
    const edited = build((root) => appendFileSync(join(root, 'models/quality/train.py'), '# tuned\n'));
    const expected = expectedFrom('models/quality/');
    // evaluate and gapfill run all four programs, so they are among them; trend's own steps are not.
    expect(expected).toContain('quality.train');
    expect(expected).toContain('evaluate');
    expect(expected).not.toContain('trend.train');
    expect(changed(basePlan, await planIn(edited))).toEqual(sorted(expected));
    // A new file in the model's folder is new code too.
    const added = build((root) => writeFileSync(join(root, 'models/quality/helpers.py'), 'X = 1\n'));
    expect(changed(basePlan, await planIn(added))).toEqual(sorted(expected));
  });

  it('an edited shared file (models/lib, requirements) re-keys every step running a model program', async () => {
    const everyModelStep = sorted(expectedFrom('models/'));
    const lib = build((root) => appendFileSync(join(root, 'models/lib/cli.py'), '# shared\n'));
    expect(changed(basePlan, await planIn(lib))).toEqual(everyModelStep);
    const pins = build((root) => appendFileSync(join(root, 'models/requirements.txt'), 'tqdm==4.67.1\n'));
    expect(changed(basePlan, await planIn(pins))).toEqual(everyModelStep);
    // SQL steps run no program: their keys stay.
    expect(everyModelStep).not.toContain('quality.labels');
  });

  it('another model, a README or bytecode caches change no key', async () => {
    const unrelated = build((root) => {
      appendFileSync(join(root, 'models/house-prices/train.py'), '# another model\n');
      appendFileSync(join(root, 'models/README.md'), '\nmore words\n');
      mkdirSync(join(root, 'models/quality/__pycache__'));
      writeFileSync(join(root, 'models/quality/__pycache__/train.cpython-312.pyc'), 'stale');
      mkdirSync(join(root, 'models/lib/__pycache__'));
      writeFileSync(join(root, 'models/lib/__pycache__/cli.cpython-312.pyc'), 'stale');
      writeFileSync(join(root, 'models/lib/.DS_Store'), 'finder');
    });
    expect(changed(basePlan, await planIn(unrelated))).toEqual([]);
    // A .pyc next to the sources is importable as a module of its own: it is code.
    const sourceless = build((root) => writeFileSync(join(root, 'models/lib/extra.pyc'), 'bytecode'));
    expect(changed(basePlan, await planIn(sourceless))).toEqual(sorted(expectedFrom('models/')));
  });

  it('refuses a symbolic link in a program folder and a missing model folder, typed and naming the step', async () => {
    const linked = build((root) =>
      symlinkSync(join(root, 'models/lib/cli.py'), join(root, 'models/quality/cli.py')),
    );
    const link = await planIn(linked).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(link).toBeInstanceOf(ApplicationFailure);
    expect((link as ApplicationFailure).type).toBe(RunnerErrorType.InvalidProgram);
    expect((link as ApplicationFailure).nonRetryable).toBe(true);
    expect((link as ApplicationFailure).message).toMatch(
      /^step quality\.train: program file models\/quality\/cli\.py is a symbolic link/,
    );

    const gone = build((root) => rmSync(join(root, 'models/trend'), { recursive: true }));
    const missing = await planIn(gone).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((missing as ApplicationFailure).type).toBe(RunnerErrorType.CodeFileNotFound);
    expect((missing as ApplicationFailure).message).toBe('step trend.train: no models/trend in this build');
  });
});

describe('pinned steps: the key covers the program files at the pinned commit', () => {
  let repo: string;
  const commits: Record<string, string> = {};
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      encoding: 'utf8',
    }).trim();
  /** Commits one change on top of the base commit (each on its own branch), returning the commit. */
  const commit = (name: string, change: () => void) => {
    git('checkout', '-q', '-B', name, commits.base as string);
    change();
    git('add', '-A', '-f');
    git('commit', '-q', '--allow-empty', '-m', name);
    return (commits[name] = git('rev-parse', 'HEAD'));
  };
  const planAt = (ref: string) =>
    resolvePlan({ pipelines, kinds: stepKinds }, request({ models_repo: repo, models_ref: ref }));

  beforeAll(() => {
    repo = committedModels(join(dir, 'repo'));
    // The pipeline's SQL too: its steps read it at the pinned commit.
    const sql = execFileSync('git', ['-C', buildRoot, 'archive', 'HEAD', 'pipelines/visits-scaling/sql']);
    execFileSync('tar', ['-x', '-C', repo], { input: sql });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    commits.base = git('rev-parse', 'HEAD');
    commit('model', () => appendFileSync(join(repo, 'models/quality/train.py'), '# tuned\n'));
    commit('lib', () => appendFileSync(join(repo, 'models/lib/retrainer_model.py'), '# shared\n'));
    commit('unrelated', () => {
      appendFileSync(join(repo, 'models/house-prices/train.py'), '# another model\n');
      appendFileSync(join(repo, 'models/README.md'), '\nmore words\n');
      // Committed bytecode caches (forced past any ignore file) are litter too.
      mkdirSync(join(repo, 'models/quality/__pycache__'));
      writeFileSync(join(repo, 'models/quality/__pycache__/train.cpython-312.pyc'), 'stale');
    });
    commit('symlink', () => symlinkSync('../lib/cli.py', join(repo, 'models/quality/cli.py')));
    commit('features', () => appendFileSync(join(repo, 'models/sensor-clustering/features.py'), '# v2\n'));
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('a commit editing a model file re-keys exactly its steps and their downstream', async () => {
    const before = await planAt(commits.base as string);
    const after = await planAt(commits.model as string);
    expect(after.steps.find((step) => step.id === 'quality.train')?.commit).toBe(commits.model);
    expect(changed(before, after)).toEqual(sorted(expectedFrom('models/quality/')));
  });

  it('a commit editing models/lib re-keys every step running a model program', async () => {
    const before = await planAt(commits.base as string);
    expect(changed(before, await planAt(commits.lib as string))).toEqual(sorted(expectedFrom('models/')));
  });

  it('a commit touching only another model, a README and __pycache__ changes no key', async () => {
    const before = await planAt(commits.base as string);
    const after = await planAt(commits.unrelated as string);
    expect(after.steps.every((step) => !step.commit || step.commit === commits.unrelated)).toBe(true);
    expect(changed(before, after)).toEqual([]);
  });

  it('a map step (sensor features, one item per sensor) keys its program too', async () => {
    // Its `sensor: '{{item}}'` fits the schema only once an item fills it; the key must not lose the
    // program for that (each item's key is the step's key plus the item).
    const sensors = createPipelineRegistry([sensorClusteringPipeline]);
    const at = (ref: string) =>
      resolvePlan(
        { pipelines: sensors, kinds: stepKinds },
        { ...request({ models_repo: repo, models_ref: ref }), pipeline: sensorClusteringPipeline.name },
      );
    const before = await at(commits.base as string);
    const after = await at(commits.features as string);
    expect(changed(before, after)).toEqual(['clustering_inference', 'features']);
    expect(changed(before, await at(commits.model as string))).toEqual([]);
  });

  it('refuses a map step whose program folder comes from the item', async () => {
    const perItem = definePipeline('per-item-code')
      .step('features', {
        kind: 'sensor_feature',
        spec: {
          readings: 'r.t',
          features: 'f.t',
          date: '2026-01-01',
          sensor: '{{item}}',
          script: 'models/sensor-clustering/features.py',
          code: '{{item.code}}',
        },
        repo: { url: repo, ref: commits.base as string },
        outputs: ['table'],
        map: { forEach: [{ code: 'models' }] },
      })
      .build();
    const error = await resolvePlan(
      { pipelines: createPipelineRegistry([perItem]), kinds: stepKinds },
      { ...request(), pipeline: 'per-item-code' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(RunnerErrorType.InvalidStepSpec);
    expect((error as ApplicationFailure).message).toBe(
      'step features: spec.code comes from the map item, and the files or program of kind sensor_feature depend on it: they cannot be keyed when the run is planned',
    );
  });

  it('refuses a committed symbolic link in a program folder', async () => {
    const error = await planAt(commits.symlink as string).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(RunnerErrorType.InvalidProgram);
    expect((error as ApplicationFailure).message).toContain('models/quality/cli.py');
  });
});

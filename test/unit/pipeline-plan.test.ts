import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan, type PlanRequest } from '../../activities/plan';
import { createPipelineRegistry, definePipeline, param } from '../../pipelines';
import type { JsonPrimitive, PipelineDefinition } from '../../pipelines/core/types';
import { RunnerErrorType, type RunSummary } from '../../workflows/definitions';
import { gateKind } from '../../activities/kinds/basic';
import { ingestTrainEvaluateDeployPipeline } from '../../pipelines/ingest-train-evaluate-deploy/pipeline';
import { stepKinds } from '../../workers/kinds';
import { looseKind } from '../harness/kinds';
import { testTempDir } from '../harness/paths';

const scaling = (version = '1') =>
  definePipeline('visits-scaling', {
    parameters: {
      region: param.string({ default: 'eu' }),
      epochs: param.number({ default: 3 }),
      approve: param.boolean({ default: false }),
    },
  })
    .step('prepare', {
      kind: 'sql',
      spec: { query: 'SELECT * FROM v WHERE day <= "{{cutoff}}"' },
      outputs: ['table'],
    })
    .step('quality.data', {
      kind: 'sql',
      after: ['prepare'],
      version,
      spec: { query: 'SELECT * FROM {{steps.prepare.table}} WHERE region = "{{region}}"' },
      outputs: ['table', 'labels'],
    })
    .step('quality.train', {
      kind: 'train',
      after: ['quality.data'],
      spec: { epochs: '{{epochs}}', data: '{{steps.quality.data.table}}' },
      outputs: ['model'],
    })
    .step('share.train', { kind: 'train', after: ['prepare'], outputs: ['model'] })
    .step('promote', { kind: 'gate', after: ['quality.train', 'share.train'], approval: '{{approve}}' })
    .build();

/** Stand-ins that take any spec (this file tests the plan, not the generic kinds' schemas). */
const kinds = [
  looseKind('sql'),
  {
    ...looseKind('train', undefined, { by: 'child-workflow', workflow: 'trainOnVm' }),
    program: () => ({ paths: ['train.py'] }),
  },
  gateKind,
];

/** The "build" whose train.py the unpinned train steps run (this file tests the plan, not models/). */
let build: string;
beforeAll(() => {
  build = testTempDir('plan-build');
  writeFileSync(join(build, 'train.py'), 'print(0)\n');
});
afterAll(() => rmSync(build, { recursive: true, force: true }));

const request = (overrides: Partial<PlanRequest> = {}): PlanRequest => ({
  pipeline: 'visits-scaling',
  workflowId: 'visits-scaling/test',
  startTime: '2026-11-23T09:00:00.000Z',
  ...overrides,
});

const plan = (definition: PipelineDefinition, overrides: Partial<PlanRequest> = {}, summary?: RunSummary) =>
  resolvePlan(
    {
      pipelines: createPipelineRegistry([definition]),
      kinds,
      fetchRunSummary: async () => summary,
      buildRoot: build,
    },
    request(overrides),
  );

const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
};

const byId = async (promise: ReturnType<typeof plan>) =>
  Object.fromEntries((await promise).steps.map((step) => [step.id, step]));

describe('plan resolution', () => {
  it('takes the cutoff from the request, else the schedule, else the start date', async () => {
    const scheduled = { scheduledStartTime: '2026-10-01T00:00:00.000Z' };
    expect(await plan(scaling(), { cutoff: '2026-09-30', ...scheduled })).toMatchObject({
      cutoff: '2026-09-30',
      cutoffSource: 'explicit',
    });
    expect(await plan(scaling(), scheduled)).toMatchObject({
      cutoff: '2026-10-01',
      cutoffSource: 'schedule',
    });
    expect(await plan(scaling())).toMatchObject({ cutoff: '2026-11-23', cutoffSource: 'start' });
    const bad = await failure(plan(scaling(), { cutoff: '30/09/2026' }));
    expect(bad.type).toBe(RunnerErrorType.InvalidParameters);
    expect(bad.nonRetryable).toBe(true);
  });

  it('fills parameters, step references and run-time approval into the specs', async () => {
    const steps = await byId(
      plan(scaling(), { params: { region: 'us', approve: true }, cutoff: '2026-09-30' }),
    );
    const prepare = steps.prepare?.outputs.table;
    expect(prepare).toMatch(/^smc_visits_scaling\.prepare_[0-9a-f]{8}$/);
    expect(steps.prepare?.spec.query).toBe('SELECT * FROM v WHERE day <= "2026-09-30"');
    expect(steps['quality.data']?.spec.query).toBe(`SELECT * FROM ${prepare} WHERE region = "us"`);
    expect(steps['quality.data']?.outputs.labels).toMatch(
      /^smc_visits_scaling\.quality_data_labels_[0-9a-f]{8}$/,
    );
    expect(steps['quality.train']?.spec).toEqual({ epochs: 3, data: steps['quality.data']?.outputs.table });
    expect(steps.promote?.approval).toBe(true);
    expect((await byId(plan(scaling()))).promote?.approval).toBe(false);
  });

  it('keys the cache on step, version, resolved spec and upstream keys only', async () => {
    const base = await byId(plan(scaling(), { cutoff: '2026-09-30' }));
    const again = await byId(plan(scaling(), { cutoff: '2026-09-30', workflowId: 'other/run' }));
    expect(Object.values(again).map((s) => s.cacheKey)).toEqual(Object.values(base).map((s) => s.cacheKey));

    const bumped = await byId(plan(scaling('2'), { cutoff: '2026-09-30' }));
    const changed = (other: typeof base) =>
      Object.keys(base).filter((id) => base[id]?.cacheKey !== other[id]?.cacheKey);
    expect(changed(bumped)).toEqual(['quality.data', 'quality.train', 'promote']);

    const otherEpochs = await byId(plan(scaling(), { cutoff: '2026-09-30', params: { epochs: 5 } }));
    expect(changed(otherEpochs)).toEqual(['quality.train', 'promote']);

    const otherCutoff = await byId(plan(scaling(), { cutoff: '2026-12-31' }));
    expect(changed(otherCutoff)).toEqual(Object.keys(base));
  });

  it('fails typed and non-retryable on an unknown pipeline or bad parameters', async () => {
    const unknown = await failure(plan(scaling(), { pipeline: 'nope' }));
    expect(unknown.type).toBe(RunnerErrorType.UnknownPipeline);
    const params = await failure(plan(scaling(), { params: { epochs: 'many', regoin: 'us' } }));
    expect(params.type).toBe(RunnerErrorType.InvalidParameters);
    expect(params.message).toContain('unknown parameter regoin');
    expect(params.message).toContain('parameter epochs');
  });

  it('refuses a holdout_percent of ingest-train-evaluate-deploy outside 1–90, naming it', async () => {
    const real = (params: Record<string, JsonPrimitive>) =>
      resolvePlan(
        { pipelines: createPipelineRegistry([ingestTrainEvaluateDeployPipeline]), kinds: stepKinds },
        request({ pipeline: ingestTrainEvaluateDeployPipeline.name, params }),
      );
    for (const holdout of [0, 95, 100, -20, '--holdout_percent=50', '50%']) {
      const error = await failure(real({ holdout_percent: holdout }));
      expect(error.type).toBe(RunnerErrorType.InvalidParameters);
      expect(error.nonRetryable).toBe(true);
      expect(error.message).toContain('parameter holdout_percent');
    }
    const ingest = (await real({ holdout_percent: 90 })).steps.find((step) => step.id === 'ingest');
    expect((ingest?.spec.params as { holdout_percent: number }).holdout_percent).toBe(90);
  });

  it('reuses the outputs of every step outside the rerun, and points the rerun at them', async () => {
    const first = await byId(plan(scaling(), { cutoff: '2026-09-30' }));
    const earlier: RunSummary = {
      pipeline: 'visits-scaling',
      workflowId: 'visits-scaling/q3',
      state: 'failed',
      cutoff: '2026-09-30',
      params: {},
      steps: {
        prepare: { state: 'succeeded', cacheKey: 'k', outputs: { table: 'smc_visits_scaling.prepare_old' } },
        'quality.data': { state: 'cached', cacheKey: 'k', outputs: first['quality.data']?.outputs ?? {} },
        'quality.train': { state: 'failed', cacheKey: 'k', outputs: {} },
        'share.train': { state: 'succeeded', cacheKey: 'k', outputs: { model: 'registry/share/7' } },
      },
    };
    const rerun = await byId(
      plan(
        scaling(),
        { cutoff: '2026-09-30', reuseRunId: 'visits-scaling/q3', from: 'quality.train' },
        earlier,
      ),
    );
    expect(rerun.prepare?.reuse).toEqual({
      runId: 'visits-scaling/q3',
      outputs: { table: 'smc_visits_scaling.prepare_old' },
    });
    expect(rerun['share.train']?.reuse?.outputs).toEqual({ model: 'registry/share/7' });
    expect(rerun['quality.data']?.spec.query).toContain('FROM smc_visits_scaling.prepare_old WHERE');
    expect(rerun['quality.train']?.reuse).toBeUndefined();
    expect(rerun.promote?.reuse).toBeUndefined();
    // `from` and its downstream are computed afresh: keys (so output names) of their own, per run.
    expect(rerun['quality.train']?.cacheKey).not.toBe(first['quality.train']?.cacheKey);
    expect(rerun.promote?.cacheKey).not.toBe(first.promote?.cacheKey);
    expect(rerun['quality.train']?.outputs).not.toEqual(first['quality.train']?.outputs);
    expect(rerun['quality.data']?.cacheKey).toBe(first['quality.data']?.cacheKey);
    const again = await byId(
      plan(
        scaling(),
        {
          cutoff: '2026-09-30',
          reuseRunId: 'visits-scaling/q3',
          from: 'quality.train',
          workflowId: 'visits-scaling/other',
        },
        earlier,
      ),
    );
    expect(again['quality.train']?.cacheKey).not.toBe(rerun['quality.train']?.cacheKey);

    const unknownFrom = await failure(
      plan(scaling(), { reuseRunId: 'visits-scaling/q3', from: 'nope' }, earlier),
    );
    expect(unknownFrom.type).toBe(RunnerErrorType.InvalidReuse);
    expect(unknownFrom.message).toContain('unknown step nope');
    const noRun = await failure(plan(scaling(), { reuseRunId: 'visits-scaling/gone', from: 'promote' }));
    expect(noRun.message).toContain('has no recorded outputs');
  });
});

describe('pinning model repositories', () => {
  let repo: string;
  let first: string;
  let second: string;
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

  beforeAll(() => {
    repo = testTempDir('plan-repo');
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'test@example.com');
    git('config', 'user.name', 'test');
    writeFileSync(join(repo, 'train.py'), 'print(1)\n');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    git('tag', '-a', 'v1', '-m', 'v1');
    first = git('rev-parse', 'HEAD');
    writeFileSync(join(repo, 'train.py'), 'print(2)\n');
    git('commit', '-q', '-am', 'second');
    second = git('rev-parse', 'HEAD');
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  const withRepo = () =>
    definePipeline('repo-pinned', { parameters: { model_ref: param.string({ default: 'main' }) } })
      .step('train', { kind: 'train', repo: { url: repo, ref: '{{model_ref}}' } })
      .build();
  const pinned = async (ref: string) =>
    (await plan(withRepo(), { pipeline: 'repo-pinned', params: { model_ref: ref } })).steps[0];

  it('pins a branch, an annotated tag and an abbreviated commit to full commits', async () => {
    expect((await pinned('main'))?.commit).toBe(second);
    expect((await pinned('v1'))?.commit).toBe(first);
    expect((await pinned(first.slice(0, 10)))?.commit).toBe(first);
    expect((await pinned('main'))?.cacheKey).not.toBe((await pinned('v1'))?.cacheKey);
  });

  it('fails typed when the ref does not exist, naming the step', async () => {
    const error = await failure(pinned('no-such-branch'));
    expect(error.type).toBe(RunnerErrorType.RepoRefNotFound);
    expect(error.message).toContain('parameter model_ref: step train: ref no-such-branch not found');
  });
});

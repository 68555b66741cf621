import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRoot } from '../../activities/code-files';
import { resolvePlan, SCRATCH_PREFIX, type PlanRequest } from '../../activities/plan';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { downstreamOf } from '../../pipelines/core/graph';
import type { Plan } from '../../pipelines/core/types';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import { stepKinds } from '../../workers/kinds';
import { RunnerErrorType } from '../../workflows/definitions';
import { testTempDir } from '../harness/paths';

/**
 * Issue 9's acceptance at plan level: the visits-scaling plan (the worker's real kinds) against a
 * real git repository holding its SQL and models/, compared key by key.
 */

const SQL_DIR = 'pipelines/visits-scaling/sql';
const badSpec = definePipeline('bad-spec', { parameters: {} })
  .step('load', {
    kind: 'sql',
    spec: { sql: `${SQL_DIR}/holdout.sql`, tables: {}, params: {}, limt: 10 },
    outputs: ['table'],
  })
  .build();
const pipelines = createPipelineRegistry([visitsScalingPipeline, badSpec]);

let repo: string;
let first: string;
let second: string;
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8',
  }).trim();

beforeAll(() => {
  // A repository with this checkout's SQL and model programs (as committed); a second commit edits one query.
  repo = testTempDir('plan-keys-repo');
  const files = execFileSync('git', ['-C', buildRoot, 'archive', 'HEAD', SQL_DIR, 'models']);
  execFileSync('tar', ['-x', '-C', repo], { input: files });
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  first = git('rev-parse', 'HEAD');
  appendFileSync(join(repo, SQL_DIR, 'quality_labels.sql'), '\n-- edited: same query, new text\n');
  git('commit', '-q', '-am', 'edit quality_labels.sql');
  second = git('rev-parse', 'HEAD');
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

const plan = (overrides: Partial<PlanRequest> & { params?: Record<string, unknown> } = {}): Promise<Plan> =>
  resolvePlan(
    { pipelines, kinds: stepKinds },
    {
      pipeline: 'visits-scaling',
      workflowId: 'visits-scaling/keys',
      startTime: '2026-11-23T09:00:00.000Z',
      cutoff: '2026-01-01',
      ...overrides,
      params: { models_repo: repo, models_ref: first, ...overrides.params },
    },
  );

const keys = (p: Plan) => new Map(p.steps.map((step) => [step.id, step.cacheKey]));
/** The steps whose keys differ between two plans of the same pipeline. */
const changed = (a: Plan, b: Plan) => {
  const other = keys(b);
  expect(other.size).toBe(a.steps.length);
  return new Set(a.steps.filter((step) => step.cacheKey !== other.get(step.id)).map((step) => step.id));
};
const sorted = (set: Iterable<string>) => [...set].sort();

const failure = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
};

describe('cache keys of the visits-scaling plan', () => {
  it('two quarters share no key of a cutoff-dependent step and train every model again; one quarter planned twice keeps every key', async () => {
    const q1 = await plan({ cutoff: '2026-01-01' });
    const q2 = await plan({ cutoff: '2026-04-01' });
    const q1Again = await plan({ cutoff: '2026-01-01', workflowId: 'visits-scaling/keys-again' });

    // Cutoff-dependent: a spec that names {{cutoff}}, and everything downstream of one.
    const direct = visitsScalingPipeline.steps.filter((step) =>
      JSON.stringify(step.spec).includes('{{cutoff}}'),
    );
    expect(direct.length).toBeGreaterThan(0);
    const dependent = new Set(
      direct.flatMap((step) => [...downstreamOf(visitsScalingPipeline.steps, step.id)]),
    );
    const trains = visitsScalingPipeline.steps.filter((step) => step.kind === 'train').map((step) => step.id);
    expect(trains).toHaveLength(4);
    for (const train of trains) expect(dependent).toContain(train);

    const q2Keys = new Set(q2.steps.map((step) => step.cacheKey));
    const shared = q1.steps.filter((step) => dependent.has(step.id) && q2Keys.has(step.cacheKey));
    expect(shared.map((step) => step.id)).toEqual([]);
    for (const train of trains) expect(keys(q2).get(train)).not.toBe(keys(q1).get(train));
    // Only what does not depend on the cutoff keeps its key (prepare: the sources exist).
    expect(sorted(changed(q1, q2))).toEqual(sorted(dependent));
    expect(dependent.size).toBeLessThan(q1.steps.length);

    expect(changed(q1, q1Again).size).toBe(0);
    expect(q1Again.steps.map((step) => step.outputs)).toEqual(q1.steps.map((step) => step.outputs));
  });

  it('an edited SQL file in a new commit changes the keys of exactly the step reading it and its downstream', async () => {
    const before = await plan({ params: { models_ref: first } });
    const after = await plan({ params: { models_ref: second } });
    expect(after.steps.find((step) => step.id === 'quality.labels')?.commit).toBe(second);

    const readers = visitsScalingPipeline.steps
      .filter((step) => step.spec.sql === `${SQL_DIR}/quality_labels.sql`)
      .map((step) => step.id);
    expect(readers).toEqual(['quality.labels']);
    const expected = new Set(readers.flatMap((id) => [...downstreamOf(visitsScalingPipeline.steps, id)]));
    expect(expected.size).toBeGreaterThan(1);
    expect(expected.size).toBeLessThan(before.steps.length);
    // A new commit alone (models/ and every other query unchanged) moves no other key.
    expect(sorted(changed(before, after))).toEqual(sorted(expected));
    for (const id of ['quality.features', 'trend.train', 'visits_share.data'])
      expect(changed(before, after).has(id)).toBe(false);
  });

  it('a parameter that no step reads changes no key; one that a step reads changes that step', async () => {
    const unread = 'quality_notebook_data_machine';
    expect(visitsScalingPipeline.parameters[unread]).toBeDefined();
    expect(JSON.stringify(visitsScalingPipeline.steps)).not.toContain(`{{${unread}}}`);
    const base = await plan();
    const other = await plan({ params: { [unread]: 'n2-highmem-64' } });
    expect(other.params[unread]).toBe('n2-highmem-64');
    expect(changed(base, other).size).toBe(0);

    // The same comparison sees a parameter that is read.
    const read = await plan({ params: { train_steps: 5 } });
    expect(changed(base, read)).toContain('visits_share.train');
  });
});

describe('scratch tables of backfills', () => {
  const SCRATCH = new RegExp(`\\b${SCRATCH_PREFIX}[A-Za-z0-9_]+\\.[A-Za-z0-9_]+`, 'g');
  /** Every scratch table a plan's steps write (their outputs) or read (named in their resolved specs). */
  const scratchTables = (p: Plan) => {
    const tables = new Set<string>();
    for (const step of p.steps) {
      // prepare's one output names the pipeline's scratch dataset, shared by design; it is no table.
      if (step.kind !== 'prepare') for (const name of Object.values(step.outputs)) tables.add(name);
      for (const name of JSON.stringify(step.spec).match(SCRATCH) ?? []) tables.add(name);
    }
    return tables;
  };

  it('two backfill runs of different quarters never read or write the same scratch table', async () => {
    const backfill = (nominal: string) =>
      plan({
        cutoff: undefined,
        scheduledStartTime: nominal,
        startTime: '2026-11-30T10:00:00.000Z',
        workflowId: `visits-scaling-quarterly-${nominal}`,
      });
    const q1 = await backfill('2026-01-01T00:00:00Z');
    const q2 = await backfill('2026-04-01T00:00:00Z');
    expect([q1.cutoff, q2.cutoff]).toEqual(['2026-01-01', '2026-04-01']);

    const a = scratchTables(q1);
    const b = scratchTables(q2);
    // Every SQL and predict step writes a table, and downstream specs read them.
    expect(a.size).toBeGreaterThan(q1.steps.filter((step) => step.kind === 'sql').length);
    const readByQ1 = q1.steps.flatMap((step) => JSON.stringify(step.spec).match(SCRATCH) ?? []);
    expect(readByQ1.length).toBeGreaterThan(0);
    expect([...a].filter((table) => b.has(table))).toEqual([]);
    // The shared scratch dataset name is read by no step.
    const prepare = q1.steps.find((step) => step.kind === 'prepare');
    for (const name of Object.values(prepare?.outputs ?? {})) expect(readByQ1).not.toContain(name);
  });
});

describe('bad specs and parameters fail the plan', () => {
  it('a bad duration parameter is InvalidParameters naming the parameter and value', async () => {
    const error = await failure(plan({ params: { max_training_duration: '5 hourz' } }));
    expect(error.type).toBe(RunnerErrorType.InvalidParameters);
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toContain('parameter max_training_duration');
    expect(error.message).toContain('invalid duration "5 hourz"');
    // Option-like values are no durations either.
    const optionLike = await failure(plan({ params: { monitor_poll_interval: '--5 hours' } }));
    expect(optionLike.message).toContain('parameter monitor_poll_interval');
  });

  it('a bad step spec is InvalidStepSpec naming the step and field', async () => {
    // A parameter that makes a resolved spec invalid: every train step's policy.maxRetries.
    const negative = await failure(plan({ params: { train_retries: -1 } }));
    expect(negative.type).toBe(RunnerErrorType.InvalidStepSpec);
    expect(negative.nonRetryable).toBe(true);
    expect(negative.message).toMatch(/step visits_share\.train: spec\.policy\.maxRetries: /);
    expect(negative.message).toContain('step quality.train: spec.policy.maxRetries');
    // A misspelt field of a definition.
    const typo = await failure(
      resolvePlan(
        { pipelines, kinds: stepKinds },
        { pipeline: 'bad-spec', workflowId: 'bad-spec/1', startTime: '2026-11-23T09:00:00.000Z' },
      ),
    );
    expect(typo.type).toBe(RunnerErrorType.InvalidStepSpec);
    expect(typo.message).toBe('step load: spec.limt: unknown field');
  });
});

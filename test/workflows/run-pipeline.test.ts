import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan } from '../../activities/plan';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import {
  markSucceededSignal,
  retryStepSignal,
  RunnerErrorType,
  statusQuery,
  type RunStatus,
} from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createTimeSkippingEnv } from '../harness/temporal';
import {
  createRunnerWorker,
  startRun,
  failing,
  StepScript,
  uniqueId,
  waitForStatus,
  testKinds,
} from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };

const diamond = definePipeline('diamond')
  .step('prepare', { kind: 'script', ...once })
  .step('left.train', { kind: 'script', after: ['prepare'], ...once })
  .step('right.train', { kind: 'script', after: ['prepare'], ...once })
  .step('evaluate', { kind: 'script', after: ['left.train', 'right.train'], ...once })
  .build();

const twoBranches = (onFailure: 'fail' | 'wait') =>
  definePipeline(`branches-${onFailure}`)
    .step('a', { kind: 'script', ...once })
    .step('bad', { kind: 'script', after: ['a'], onFailure, ...once })
    .step('bad.next', { kind: 'script', after: ['bad'], ...once })
    .step('good', { kind: 'script', after: ['a'], ...once })
    .step('good.next', { kind: 'script', after: ['good'], ...once })
    .build();

const cached = definePipeline('cached', { parameters: {} })
  .step('data', {
    kind: 'script',
    cache: true,
    outputs: ['table'],
    spec: { query: 'SELECT {{cutoff}}' },
    ...once,
  })
  .step('train', { kind: 'script', after: ['data'], spec: { input: '{{steps.data.table}}' }, ...once })
  .build();

const states = (status: RunStatus) => Object.fromEntries(status.steps.map((step) => [step.id, step.state]));

describe('runPipeline on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs the two branches of a diamond concurrently', async () => {
    const script = new StepScript();
    let release: () => void = () => undefined;
    const bothStarted = new Promise<void>((resolve) => (release = resolve));
    const branch = async () => {
      if (script.started('left.train') + script.started('right.train') === 2) release();
      await bothStarted; // a sequential runner never gets here for the first branch: the test times out
    };
    script.behave('left.train', branch).behave('right.train', branch);
    const worker = await createRunnerWorker(env, script, [diamond]);
    const result = await worker.runUntil(
      env.client.workflow.execute(runPipeline, {
        args: [{ pipeline: 'diamond', cutoff: '2026-09-30' }],
        workflowId: uniqueId('diamond'),
        taskQueue: worker.options.taskQueue,
      }),
    );
    const order = script.events.map((e) => `${e.event}:${e.step}`);
    const firstEnd = order.findIndex((entry) => entry.startsWith('end:') && entry.includes('.train'));
    expect(order.slice(0, firstEnd)).toEqual(
      expect.arrayContaining(['start:left.train', 'start:right.train']),
    );
    expect(order.indexOf('start:evaluate')).toBeGreaterThan(order.lastIndexOf('end:right.train'));
    expect(order.indexOf('start:evaluate')).toBeGreaterThan(order.lastIndexOf('end:left.train'));
    expect(Object.values(result.steps).map((step) => step.state)).toEqual(Array(4).fill('succeeded'));
    expect(result.cutoff).toBe('2026-09-30');
  });

  it('stops only what depends on a failed step, then fails naming it', async () => {
    const script = new StepScript().behave('bad', failing('boom in bad'));
    const { worker, handle } = await startRun(env, script, twoBranches('fail'));
    const { error, status } = await worker.runUntil(async () => {
      const error = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { error, status: await handle.query(statusQuery) };
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(RunnerErrorType.StepsFailed);
    expect(cause?.message).toBe('steps failed: bad');
    expect(states(status)).toEqual({
      a: 'succeeded',
      bad: 'failed',
      'bad.next': 'skipped',
      good: 'succeeded',
      'good.next': 'succeeded',
    });
    expect(status.steps.find((step) => step.id === 'bad')?.error).toContain('boom in bad');
    expect(script.started('bad.next')).toBe(0);
    expect(script.notifications.map((n) => [n.event, n.steps])).toEqual([['failed', ['bad']]]);
  });

  it('waits on a failed step with onFailure wait; markSucceeded unblocks its downstream', async () => {
    const script = new StepScript().behave('bad', failing('flaky'));
    const { worker, handle } = await startRun(env, script, twoBranches('wait'));
    const { result, status } = await worker.runUntil(async () => {
      await script.notified('awaiting-decision', 'bad');
      const waiting = await handle.query(statusQuery);
      expect(waiting.steps.find((step) => step.id === 'bad')).toMatchObject({
        state: 'awaiting-decision',
        awaiting: 'failure',
        error: expect.stringContaining('flaky'),
      });
      expect(script.started('bad.next')).toBe(0);
      await handle.signal(markSucceededSignal, { step: 'bad', reason: 'checked the table by hand' });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    expect(result.steps.bad?.state).toBe('marked-succeeded');
    expect(result.steps['bad.next']?.state).toBe('succeeded');
    expect(script.started('bad')).toBe(1);
    expect(status.steps.find((step) => step.id === 'bad')?.reason).toBe('checked the table by hand');
    expect(status.operatorActions.map((action) => action.signal)).toEqual(['markSucceeded']);
  });

  it('retryStep brings a failed step and its skipped downstream back while the run is alive', async () => {
    let releaseGood: () => void = () => undefined;
    const goodReleased = new Promise<void>((resolve) => (releaseGood = resolve));
    const script = new StepScript()
      .behave('bad', async (execution) => {
        if (execution.attempt === 1) throw new Error('table locked');
      })
      .behave('good', () => goodReleased);
    const { worker, handle } = await startRun(env, script, twoBranches('fail'));
    const { skipped, result } = await worker.runUntil(async () => {
      const skipped = await waitForStatus(handle, (s) => states(s)['bad.next'] === 'skipped');
      await handle.signal(retryStepSignal, { step: 'bad' });
      await script.when('bad.next', 'end');
      releaseGood();
      return { skipped, result: await handle.result() };
    });
    expect(states(skipped)).toMatchObject({ bad: 'failed', 'bad.next': 'skipped', good: 'running' });
    expect(Object.values(result.steps).map((step) => step.state)).toEqual(Array(5).fill('succeeded'));
    expect(script.events.filter((e) => e.step === 'bad').map((e) => `${e.event}:${e.attempt}`)).toEqual([
      'start:1',
      'error:1',
      'start:2',
      'end:2',
    ]);
  });

  it('does not run a step whose outputs exist: the cache hit costs one existence check', async () => {
    const plan = await resolvePlan(
      { pipelines: createPipelineRegistry([cached]), kinds: testKinds },
      { pipeline: 'cached', workflowId: 'dry', startTime: '2026-10-01T00:00:00Z', cutoff: '2026-09-30' },
    );
    const dataOutput = plan.steps[0]?.outputs.table as string;
    expect(dataOutput).toMatch(/^smc_cached\.data_[0-9a-f]{8}$/);
    const script = new StepScript();
    script.existing.add(dataOutput);
    const worker = await createRunnerWorker(env, script, [cached]);
    const result = await worker.runUntil(
      env.client.workflow.execute(runPipeline, {
        args: [{ pipeline: 'cached', cutoff: '2026-09-30' }],
        workflowId: uniqueId('cached'),
        taskQueue: worker.options.taskQueue,
      }),
    );
    expect(result.steps.data).toMatchObject({ state: 'cached', outputs: { table: dataOutput } });
    expect(result.steps.train?.state).toBe('succeeded');
    expect(script.started('data')).toBe(0);
    expect(script.started('train')).toBe(1);
  });

  it('fails at planning when the definition is invalid, naming the bad step', async () => {
    const broken = definePipeline('broken')
      .step('a', { kind: 'script', after: ['c'] })
      .step('b', { kind: 'script', after: ['a'] })
      .step('c', { kind: 'script', after: ['b'] })
      .step('d', { kind: 'script', after: ['ghost'] })
      .draft();
    const script = new StepScript();
    const worker = await createRunnerWorker(env, script, [broken]);
    const error = await worker.runUntil(
      env.client.workflow
        .execute(runPipeline, {
          args: [{ pipeline: 'broken' }],
          workflowId: uniqueId('broken'),
          taskQueue: worker.options.taskQueue,
        })
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(failure.type).toBe(RunnerErrorType.InvalidPipeline);
    expect(failure.message).toContain('step d runs after unknown step ghost');
    expect(failure.message).toMatch(/cycle: (a → b → c → a|b → c → a → b|c → a → b → c)/);
    expect(script.events).toEqual([]);
  });
});

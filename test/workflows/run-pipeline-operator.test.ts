import type { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../pipelines';
import {
  abortRunSignal,
  approveSignal,
  markSucceededSignal,
  rerunFromSignal,
  retryStepSignal,
  RunnerErrorType,
  statusQuery,
  type RunStatus,
} from '../../workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { StepScript, startRun, untilCancelled, waitForStatus } from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };
const DAY_MS = 24 * 3600 * 1000;

const chain = definePipeline('chain')
  .step('a', { kind: 'script', ...once })
  .step('b', { kind: 'script', after: ['a'], ...once })
  .step('c', { kind: 'script', after: ['b'], ...once })
  .step('d', { kind: 'script', after: ['c'], ...once })
  .step('e', { kind: 'script', after: ['b'], ...once })
  .step('x', { kind: 'script', ...once })
  .build();

const gated = definePipeline('gated')
  .step('evaluate', { kind: 'script', ...once })
  .step('promote', { kind: 'script', after: ['evaluate'], approval: true, ...once })
  .step('cleanup', { kind: 'script', after: ['promote'], cleanup: true, ...once })
  .build();

const step = (status: RunStatus, id: string) => status.steps.find((s) => s.id === id);

describe('runPipeline operator signals', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('rerunFrom cancels the running downstream steps and resets exactly the downstream set', async () => {
    const script = new StepScript();
    let releaseX: () => void = () => undefined;
    const xReleased = new Promise<void>((resolve) => (releaseX = resolve));
    script.behave('x', () => xReleased);
    script.behave('c', (execution, context) =>
      execution.attempt === 1 ? untilCancelled(execution, context) : Promise.resolve(),
    );
    const { worker, handle } = await startRun(env, script, chain);
    const status = await worker.runUntil(async () => {
      await Promise.all([script.when('c', 'start'), script.when('x', 'start')]);
      // The workflow must have seen e finish: cancelling a just-finished activity is a race the
      // time-skipping server answers with ACTIVITY_UNKNOWN (a real server ignores it).
      await waitForStatus(handle, (s) => s.steps.find((step) => step.id === 'e')?.state === 'succeeded');
      await handle.signal(rerunFromSignal, { step: 'b' });
      await script.when('c', 'cancelled');
      await script.when('c', 'end');
      releaseX();
      await handle.result();
      return await handle.query(statusQuery);
    });
    const attempts = Object.fromEntries(status.steps.map((s) => [s.id, s.attempts]));
    // b, c, e (b's downstream) ran again; d ran once, after the rerun; a and x were never touched.
    expect(attempts).toEqual({ a: 1, b: 2, c: 2, d: 1, e: 2, x: 1 });
    expect(script.events.filter((e) => e.event === 'cancelled').map((e) => e.step)).toEqual(['c']);
    expect(status.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(status.operatorActions.map((a) => a.signal)).toEqual(['rerunFrom']);
  });

  it('an approval gate waits 10 simulated days, then proceeds on approve', async () => {
    const script = new StepScript();
    const { worker, handle } = await startRun(env, script, gated);
    const { waiting, status, result } = await worker.runUntil(async () => {
      await script.notified('awaiting-decision', 'promote');
      await env.sleep('10 days');
      const waiting = await handle.query(statusQuery);
      await handle.signal(approveSignal, { step: 'promote' });
      const result = await handle.result();
      return { waiting, status: await handle.query(statusQuery), result };
    });
    expect(step(waiting, 'promote')).toMatchObject({ state: 'awaiting-decision', awaiting: 'approval' });
    expect(script.started('promote')).toBe(1);
    expect(result.steps.promote?.state).toBe('succeeded');
    const promote = step(status, 'promote');
    const waited = Date.parse(promote?.endedAt ?? '') - Date.parse(step(status, 'evaluate')?.endedAt ?? '');
    expect(waited).toBeGreaterThanOrEqual(10 * DAY_MS);
    // No polling: a 10-day wait adds no timer and no history beyond the signal.
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.timerStartedEventAttributes)).toEqual([]);
  });

  it('abortRun cancels running steps, runs cleanup steps and ends the run as aborted', async () => {
    const script = new StepScript().behave('evaluate', untilCancelled);
    const { worker, handle } = await startRun(env, script, gated);
    const { error, status } = await worker.runUntil(async () => {
      await script.when('evaluate', 'start');
      await handle.signal(abortRunSignal, { reason: 'wrong cutoff' });
      const error = await handle.result().catch((e: unknown) => e);
      return { error, status: await handle.query(statusQuery) };
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(RunnerErrorType.RunAborted);
    expect(cause.message).toBe('run aborted: wrong cutoff');
    expect(script.events.map((e) => `${e.event}:${e.step}`)).toEqual([
      'start:evaluate',
      'cancelled:evaluate',
      'start:cleanup',
      'end:cleanup',
    ]);
    expect(status.state).toBe('aborted');
    expect(status.abortReason).toBe('wrong cutoff');
    expect(Object.fromEntries(status.steps.map((s) => [s.id, s.state]))).toEqual({
      evaluate: 'failed',
      promote: 'skipped',
      cleanup: 'succeeded',
    });
    expect(script.notifications.map((n) => n.event)).toEqual(['aborted']);
  });

  it('records signals that do not fit as rejected, with the reason, in status', async () => {
    const script = new StepScript();
    const { worker, handle } = await startRun(env, script, gated);
    const status = await worker.runUntil(async () => {
      await script.notified('awaiting-decision', 'promote');
      await handle.signal(markSucceededSignal, { step: 'nope', reason: 'typo' });
      await handle.signal(approveSignal, { step: 'evaluate' });
      await handle.signal(retryStepSignal, { step: 'promote' });
      await handle.signal(approveSignal, { step: 'promote' });
      await handle.result();
      return await handle.query(statusQuery);
    });
    expect(
      status.rejectedSignals.map(({ signal, payload, reason }) => ({ signal, payload, reason })),
    ).toEqual([
      { signal: 'markSucceeded', payload: { step: 'nope', reason: 'typo' }, reason: 'unknown step nope' },
      { signal: 'approve', payload: { step: 'evaluate' }, reason: 'step evaluate needs no approval' },
      {
        signal: 'retryStep',
        payload: { step: 'promote' },
        reason: expect.stringContaining('step promote is awaiting-decision (approval)'),
      },
    ]);
    expect(status.operatorActions.map((a) => a.signal)).toEqual(['approve']);
    expect(status.state).toBe('succeeded');
  });

  it('retryStep runs a waiting step again', async () => {
    const script = new StepScript();
    script.behave('evaluate', async (execution) => {
      if (execution.attempt === 1) throw new Error('quota exceeded');
    });
    const waitOnFailure = definePipeline('waiting')
      .step('evaluate', { kind: 'script', onFailure: 'wait', ...once })
      .step('promote', { kind: 'script', after: ['evaluate'], ...once })
      .build();
    const { worker, handle } = await startRun(env, script, waitOnFailure);
    const result = await worker.runUntil(async () => {
      await script.notified('awaiting-decision', 'evaluate');
      await handle.signal(retryStepSignal, { step: 'evaluate' });
      return await handle.result();
    });
    expect(result.steps.evaluate?.state).toBe('succeeded');
    expect(result.steps.promote?.state).toBe('succeeded');
    expect(script.events.map((e) => `${e.event}:${e.step}:${e.attempt}`)).toEqual([
      'start:evaluate:1',
      'error:evaluate:1',
      'start:evaluate:2',
      'end:evaluate:2',
      'start:promote:1',
      'end:promote:1',
    ]);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepExecution } from '../../activities/steps';
import { definePipeline, param } from '../../pipelines';
import type { MapOptions } from '../../pipelines/core/types';
import {
  abortRunSignal,
  markItemSucceededSignal,
  rerunFromSignal,
  retryItemSignal,
  RunnerErrorType,
  statusQuery,
  type RunStatus,
} from '../../workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { StepScript, startRun, untilCancelled, waitForStatus } from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };

/** A map step `each` over `forEach` (items are strings), then `after` that runs once on the result. */
function mapped(name: string, map: MapOptions, options: { onFailure?: 'wait'; eachBatch?: boolean } = {}) {
  return definePipeline(name, { parameters: { list: param.string({ default: 'a,b,c' }) } })
    .step('each', {
      kind: 'script',
      spec: { value: '{{item}}' },
      outputs: ['table'],
      cache: true,
      map,
      ...(options.onFailure ? { onFailure: options.onFailure } : {}),
      ...once,
    })
    .step('after', {
      kind: 'script',
      after: ['each'],
      eachBatch: options.eachBatch ?? false,
      outputs: ['table'],
      ...once,
    })
    .build();
}

const itemOf = (execution: StepExecution) => execution.item?.value as string;
const letters = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
const stepOf = (status: RunStatus, id: string) => status.steps.find((s) => s.id === id);

/** Records what each `after` execution saw: its batch and the items it got. */
function recordAfter(script: StepScript) {
  const seen: Array<{ batch?: StepExecution['batch']; items: unknown[]; outputs: string }> = [];
  script.behave('after', async (execution) => {
    seen.push({
      batch: execution.batch,
      items: (execution.items?.each ?? []).map((i) => i.item),
      outputs: execution.outputs.table ?? '',
    });
  });
  return seen;
}

describe('runPipeline map steps', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('succeeds above minSuccessRatio naming the failed items; downstream gets the finished ones', async () => {
    const script = new StepScript();
    script.behave('each', async (execution) => {
      if (['c', 'h'].includes(itemOf(execution))) throw new Error(`no data for ${itemOf(execution)}`);
    });
    const seen = recordAfter(script);
    const pipeline = mapped('map-ratio-ok', { forEach: letters(10), minSuccessRatio: 0.8, batchSize: 4 });
    const { worker, handle } = await startRun(env, script, pipeline);
    const { result, status } = await worker.runUntil(async () => ({
      result: await handle.result(),
      status: await handle.query(statusQuery),
    }));
    expect(result.steps.each?.state).toBe('succeeded');
    expect(stepOf(status, 'each')?.map).toMatchObject({
      total: 10,
      succeeded: 8,
      failed: 2,
      pending: 0,
      running: 0,
      batches: { size: 4, total: 3, finished: 3 },
      failedItems: [
        { index: 2, item: '"c"', error: expect.stringContaining('no data for c'), attempts: 1 },
        { index: 7, item: '"h"', error: expect.stringContaining('no data for h'), attempts: 1 },
      ],
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.items).toEqual(letters(10).filter((l) => !['c', 'h'].includes(l)));
    expect(script.started('each')).toBe(10);
  });

  it('fails below minSuccessRatio with MapItemsFailed, and its downstream is skipped', async () => {
    const script = new StepScript();
    script.behave('each', async (execution) => {
      if (['a', 'b', 'c'].includes(itemOf(execution))) throw new Error('sensor offline');
    });
    const pipeline = mapped('map-ratio-low', { forEach: letters(10), minSuccessRatio: 0.8 });
    const { worker, handle } = await startRun(env, script, pipeline);
    const { error, status } = await worker.runUntil(async () => ({
      error: await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      ),
      status: await handle.query(statusQuery),
    }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe(
      RunnerErrorType.StepsFailed,
    );
    expect(stepOf(status, 'each')).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(
        /^map: 3 of 10 items failed \(need 80% to succeed\): #0 "a": .*sensor offline/,
      ),
    });
    expect(stepOf(status, 'after')?.state).toBe('skipped');
  });

  it('retryItem runs one failed item again; markItemSucceeded counts another as done', async () => {
    const script = new StepScript();
    script.behave('each', async (execution) => {
      if (itemOf(execution) === 'b' && execution.attempt === 1) throw new Error('flaky b');
      if (itemOf(execution) === 'd') throw new Error('d is broken for good');
    });
    const pipeline = mapped('map-items', { forEach: letters(5) }, { onFailure: 'wait' });
    const { worker, handle } = await startRun(env, script, pipeline);
    const { result, status } = await worker.runUntil(async () => {
      await waitForStatus(handle, (s) => stepOf(s, 'each')?.state === 'awaiting-decision');
      await handle.signal(retryItemSignal, { step: 'each', item: 0 }); // a succeeded: rejected
      await handle.signal(retryItemSignal, { step: 'each', item: 1 });
      await waitForStatus(handle, (s) => stepOf(s, 'each')?.map?.failed === 1);
      await handle.signal(markItemSucceededSignal, { step: 'each', item: 3, reason: 'sensor retired' });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    expect(result.steps.each?.state).toBe('succeeded');
    expect(stepOf(status, 'each')?.map).toMatchObject({ succeeded: 4, markedSucceeded: 1, failed: 0 });
    const b = script.events.filter((e) => e.step === 'each' && e.event !== 'start').map((e) => e.event);
    expect(b.filter((e) => e === 'error')).toHaveLength(2); // b once, d once: nothing else reran
    expect(script.started('each')).toBe(6);
    expect(status.rejectedSignals.map((s) => s.reason)).toEqual([
      'item 0 of each is succeeded; only a failed item fits',
    ]);
    expect(status.operatorActions.map((a) => a.signal)).toEqual(['retryItem', 'markItemSucceeded']);
  });

  it('runs an eachBatch step on each finished batch, then once on the whole map', async () => {
    const script = new StepScript();
    const seen = recordAfter(script);
    // Items of the last batch wait until the second partial run has ended, so every batch is seen.
    script.behave('each', async (execution) => {
      if ((execution.item?.index ?? 0) >= 4) await script.when('after', 'end', 2);
    });
    const pipeline = mapped(
      'map-batches',
      { forEach: letters(6), batchSize: 2, maxConcurrency: 2 },
      { eachBatch: true },
    );
    const { worker, handle } = await startRun(env, script, pipeline);
    const status = await worker.runUntil(async () => {
      await handle.result();
      return await handle.query(statusQuery);
    });
    expect(seen.map((s) => [s.batch, s.items])).toEqual([
      [{ index: 1, of: 3, final: false }, ['a', 'b']],
      [{ index: 2, of: 3, final: false }, ['a', 'b', 'c', 'd']],
      [{ index: 3, of: 3, final: true }, letters(6)],
    ]);
    const partials = stepOf(status, 'after')?.partials ?? [];
    expect(partials.map((p) => [p.batch, p.items, p.state])).toEqual([
      [1, 2, 'succeeded'],
      [2, 4, 'succeeded'],
    ]);
    expect(seen[0]?.outputs).toMatch(/_b1$/);
    expect(seen[2]?.outputs).not.toMatch(/_b\d+$/);
  });

  it('rerunFrom a map step runs every item again (cache ignored) and its downstream', async () => {
    const script = new StepScript();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    script.behave('after', (execution) => (execution.attempt === 1 ? released : Promise.resolve()));
    script.behave('each', async (execution) => {
      for (const name of Object.values(execution.outputs)) script.existing.add(name);
    });
    const { worker, handle } = await startRun(env, script, mapped('map-rerun', { forEach: letters(3) }));
    const status = await worker.runUntil(async () => {
      await script.when('after', 'start');
      await handle.signal(rerunFromSignal, { step: 'each' });
      await script.when('each', 'end', 6);
      release();
      await handle.result();
      return await handle.query(statusQuery);
    });
    expect(script.started('each')).toBe(6);
    expect(script.started('after')).toBe(2);
    expect(stepOf(status, 'each')).toMatchObject({ attempts: 2, map: { succeeded: 3, cached: 0 } });
    const attempts = script.events
      .filter((e) => e.step === 'each' && e.event === 'start')
      .map((e) => e.attempt);
    expect(attempts).toEqual([1, 1, 1, 2, 2, 2]);
  });

  it('abortRun during a map cancels its running items and ends the run aborted', async () => {
    const script = new StepScript();
    script.behave('each', (execution, context) =>
      itemOf(execution) === 'a' ? Promise.resolve() : untilCancelled(execution, context),
    );
    const pipeline = mapped('map-abort', { forEach: letters(4), maxConcurrency: 2 });
    const { worker, handle } = await startRun(env, script, pipeline);
    const { error, status } = await worker.runUntil(async () => {
      await script.when('each', 'start', 3);
      await handle.signal(abortRunSignal, { reason: 'wrong sensor list' });
      return {
        error: await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        ),
        status: await handle.query(statusQuery),
      };
    });
    expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe(
      RunnerErrorType.RunAborted,
    );
    expect(status.state).toBe('aborted');
    expect(script.events.filter((e) => e.event === 'cancelled')).toHaveLength(2);
    // The batch child was cancelled before it reported: its items (even a, which finished) count as
    // cancelled; a's outputs exist, so a cached rerun would not run it again.
    expect(stepOf(status, 'each')?.map).toMatchObject({ succeeded: 0, failed: 4, pending: 0, running: 0 });
    expect(stepOf(status, 'each')?.map?.failedItems[0]?.error).toBe('cancelled');
    expect(stepOf(status, 'after')?.state).toBe('skipped');
  });

  it('caches unchanged items on a second run: only the new item runs', async () => {
    const script = new StepScript();
    script.behave('each', async (execution) => {
      for (const name of Object.values(execution.outputs)) script.existing.add(name);
    });
    const pipeline = mapped('map-cache', { forEach: '{{list}}' });
    const first = await startRun(env, script, pipeline, { params: { list: 'a,b,c' } });
    await first.worker.runUntil(first.handle.result());
    expect(script.started('each')).toBe(3);
    const second = await startRun(env, script, pipeline, { params: { list: 'a, b, c, d' } });
    const status = await second.worker.runUntil(async () => {
      await second.handle.result();
      return await second.handle.query(statusQuery);
    });
    expect(script.started('each')).toBe(4);
    expect(stepOf(status, 'each')?.map).toMatchObject({ total: 4, cached: 3, succeeded: 1 });
  });
});

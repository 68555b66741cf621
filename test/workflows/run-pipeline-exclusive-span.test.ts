import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaseActivities } from '../../activities/lease';
import { createPlanActivities } from '../../activities/plan';
import { createPipelineRegistry, definePipeline, param } from '../../pipelines';
import type { OnFailure } from '../../pipelines/core/types';
import { abortRunSignal, retryStepSignal, statusQuery, type RunStatus } from '../../workflows/definitions';
import { leaseStateQuery, leaseWorkflowId } from '../../workflows/lease-definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createDevServerEnv, createTimeSkippingEnv } from '../harness/temporal';
import { StepScript, testKinds, untilCancelled, waitForStatus } from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };

/** visits-scaling's release in small: promote and gapfill name `production:<dataset>`, cleanup does not. */
const releasing = (name: string, onFailure: OnFailure) =>
  definePipeline(name, { parameters: { dataset: param.string({ default: 'prod' }) } })
    .step('prepare', { kind: 'script', ...once })
    .step('promote', { kind: 'script', after: ['prepare'], exclusive: 'production:{{dataset}}', ...once })
    .step('gapfill', {
      kind: 'script',
      after: ['promote'],
      exclusive: 'production:{{dataset}}',
      onFailure,
      ...once,
    })
    .step('cleanup', { kind: 'script', after: ['gapfill'], ...once })
    .build();
const PIPELINES = [releasing('releasing', 'fail'), releasing('releasing-wait', 'wait')];

const step = (status: RunStatus, id: string) => status.steps.find((s) => s.id === id);
const noteOf = (handle: WorkflowHandle) => async () => step(await handle.query(statusQuery), 'promote')?.note;

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** A worker with the lease activities, runs `<prefix>/<run>`, a dataset of this test alone. */
async function setup(env: TestWorkflowEnvironment, script: StepScript) {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `span-${randomUUID()}`,
    workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
    activities: {
      ...createPlanActivities({ pipelines: createPipelineRegistry(PIPELINES), kinds: testKinds }),
      ...script.activities(),
      ...createLeaseActivities(),
    },
    maxHeartbeatThrottleInterval: '50 milliseconds',
  });
  const prefix = `span-${randomUUID().slice(0, 8)}`;
  const start = (run: string, pipeline: string, dataset: string) =>
    env.client.workflow.start(runPipeline, {
      args: [{ pipeline, params: { dataset } }],
      workflowId: `${prefix}/${run}`,
      taskQueue: worker.options.taskQueue,
    });
  const runOf = (workflowId: string) => workflowId.slice(prefix.length + 1);
  const lease = (dataset: string) =>
    env.client.workflow.getHandle(leaseWorkflowId(`production:${dataset}`)).query(leaseStateQuery);
  return { worker, start, log: [] as string[], runOf, lease, dataset: `ds_${prefix.slice(5)}` };
}

/** Records `<run>:<step>:start|end|error` around `behavior` for `steps`. */
function logSteps(
  script: StepScript,
  log: string[],
  runOf: (workflowId: string) => string,
  steps: string[],
  behavior: (run: string, step: string, attempt: number) => Promise<void> = async () => undefined,
): void {
  for (const id of steps) {
    script.behave(id, async (execution, context) => {
      const run = runOf(execution.workflowId);
      log.push(`${run}:${id}:start`);
      try {
        await behavior(run, id, execution.attempt);
      } catch (error) {
        log.push(`${run}:${id}:${context.signal.aborted ? 'cancelled' : 'error'}`);
        throw error;
      }
      log.push(`${run}:${id}:end`);
    });
  }
}

// On the dev server in real time, as the per-step lease's tests: on the time-skipping server a
// blocked step's activity times out when a result() lets time skip, and the lease's expiry races the
// renewal's activity.
describe('exclusive span: a run holds its exclusive lease from promote through gapfill', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('run B’s promote waits (showing run A) until A’s gapfill is done, not only A’s promote; another dataset does not wait', async () => {
    const script = new StepScript();
    const { worker, start, log, runOf, lease, dataset } = await setup(env, script);
    const aPromote = gate();
    const aGapfill = gate();
    logSteps(script, log, runOf, ['promote', 'gapfill'], async (run, id) => {
      if (run === 'a' && id === 'promote') await aPromote.opened;
      if (run === 'a' && id === 'gapfill') await aGapfill.opened;
    });
    await worker.runUntil(async () => {
      const a = await start('a', 'releasing', dataset);
      await script.when('promote', 'start');
      const b = await start('b', 'releasing', dataset);
      await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      aPromote.open();
      // A's promote is done: next comes A's gap fill, never B's promote.
      await Promise.race([script.when('gapfill', 'start'), script.when('promote', 'start', 2)]);
      expect(log.filter((entry) => entry.endsWith(':start'))).toEqual(['a:promote:start', 'a:gapfill:start']);
      expect(await noteOf(b)()).toBe(`waiting for production:${dataset}, held by run ${a.workflowId}`);
      const held = await lease(dataset);
      expect(held.holder?.run).toBe(a.workflowId);
      expect(held.waiting.map((w) => w.run)).toEqual([b.workflowId]);

      // Another dataset is another lease: its whole release runs while A holds production:<dataset>.
      const c = await start('c', 'releasing', `${dataset}_other`);
      await c.result();
      expect((await lease(`${dataset}_other`)).history.map((h) => h.run)).toEqual([c.workflowId]);
      expect(log).toContain('c:gapfill:end');
      expect(log).not.toContain('b:promote:start');

      aGapfill.open();
      await Promise.all([a.result(), b.result()]);
      const done = await b.query(statusQuery);
      expect(step(done, 'promote')?.note).toBeUndefined();
      expect(step(done, 'gapfill')?.state).toBe('succeeded');
      // One grant per run for both of its steps, each released.
      const grants = (await lease(dataset)).history;
      expect(grants.map((h) => [h.run, h.ended])).toEqual([
        [a.workflowId, 'released'],
        [b.workflowId, 'released'],
      ]);
    });
    const order = log.filter((entry) => !entry.startsWith('c:'));
    expect(order).toEqual([
      'a:promote:start',
      'a:promote:end',
      'a:gapfill:start',
      'a:gapfill:end',
      'b:promote:start',
      'b:promote:end',
      'b:gapfill:start',
      'b:gapfill:end',
    ]);
  });

  it('a gapfill that fails and awaits a decision keeps production held; the retry fills, then B goes on', async () => {
    const script = new StepScript();
    const { worker, start, log, runOf, lease, dataset } = await setup(env, script);
    logSteps(script, log, runOf, ['promote', 'gapfill'], async (run, id, attempt) => {
      if (run === 'a' && id === 'gapfill' && attempt === 1) throw new Error('fill failed half way');
    });
    await worker.runUntil(async () => {
      const a = await start('a', 'releasing-wait', dataset);
      await waitForStatus(a, (s) => step(s, 'gapfill')?.state === 'awaiting-decision');
      const b = await start('b', 'releasing-wait', dataset);
      const waiting = await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      expect(step(waiting, 'promote')?.note).toBe(
        `waiting for production:${dataset}, held by run ${a.workflowId}`,
      );
      // Still held while the operator decides: a's promoted state is what the decision is about.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(log).not.toContain('b:promote:start');
      expect(await noteOf(b)()).toBe(`waiting for production:${dataset}, held by run ${a.workflowId}`);
      expect((await lease(dataset)).holder?.run).toBe(a.workflowId);
      await a.signal(retryStepSignal, { step: 'gapfill' });
      await Promise.all([a.result(), b.result()]);
    });
    expect(log.filter((entry) => entry.startsWith('a:gapfill') || entry.startsWith('b:promote'))).toEqual([
      'a:gapfill:start',
      'a:gapfill:error',
      'a:gapfill:start',
      'a:gapfill:end',
      'b:promote:start',
      'b:promote:end',
    ]);
  });

  it('a run whose gapfill fails (no decision asked) releases when it fails: B goes on', async () => {
    const script = new StepScript();
    const { worker, start, log, runOf, dataset } = await setup(env, script);
    const aGapfill = gate();
    logSteps(script, log, runOf, ['promote', 'gapfill'], async (run, id) => {
      if (run === 'a' && id === 'gapfill') {
        await aGapfill.opened;
        throw new Error('fill failed half way');
      }
    });
    await worker.runUntil(async () => {
      const a = await start('a', 'releasing', dataset);
      await script.when('gapfill', 'start');
      const b = await start('b', 'releasing', dataset);
      await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      expect(log).not.toContain('b:promote:start');
      aGapfill.open();
      await expect(a.result()).rejects.toThrow(WorkflowFailedError);
      await b.result();
    });
    expect(log.indexOf('b:promote:start')).toBeGreaterThan(log.indexOf('a:gapfill:error'));
  });

  it('aborting run A releases production: B’s promote runs', async () => {
    const script = new StepScript();
    const { worker, start, log, runOf, lease, dataset } = await setup(env, script);
    logSteps(script, log, runOf, ['promote']);
    script.behave('gapfill', async (execution, context) => {
      const run = runOf(execution.workflowId);
      log.push(`${run}:gapfill:start`);
      if (run === 'a') {
        await untilCancelled(execution, context).catch((error: unknown) => {
          log.push('a:gapfill:cancelled');
          throw error;
        });
      }
      log.push(`${run}:gapfill:end`);
    });
    await worker.runUntil(async () => {
      const a = await start('a', 'releasing', dataset);
      await script.when('gapfill', 'start');
      const b = await start('b', 'releasing', dataset);
      await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      expect(log).not.toContain('b:promote:start');
      await a.signal(abortRunSignal, { reason: 'wrong cutoff' });
      await expect(a.result()).rejects.toThrow(WorkflowFailedError);
      await b.result();
      expect((await lease(dataset)).history.map((h) => [h.run, h.ended])).toEqual([
        [a.workflowId, 'released'],
        [b.workflowId, 'released'],
      ]);
    });
    expect(log.indexOf('b:promote:start')).toBeGreaterThan(log.indexOf('a:gapfill:cancelled'));
  });
});

// Time skips here only while no step runs (an operator's wait): days pass in seconds.
describe('exclusive span: the hold outlives its ttl while an operator decides', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('three days in awaiting-decision (ttl 2 h): renewed, still held by A; A’s abort lets B in', async () => {
    const script = new StepScript();
    const { worker, start, log, runOf, lease, dataset } = await setup(env, script);
    logSteps(script, log, runOf, ['promote', 'gapfill'], async (run, id) => {
      if (run === 'a' && id === 'gapfill') throw new Error('fill failed half way');
    });
    await worker.runUntil(async () => {
      const a = await start('a', 'releasing-wait', dataset);
      await waitForStatus(a, (s) => step(s, 'gapfill')?.state === 'awaiting-decision');
      const b = await start('b', 'releasing-wait', dataset);
      await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      const before = await lease(dataset);
      await env.sleep('3 days');
      const after = await lease(dataset);
      expect(after.holder?.run).toBe(a.workflowId);
      expect(after.history.map((h) => h.run)).toEqual([a.workflowId]);
      expect(Date.parse(after.holder?.expiresAt ?? '')).toBeGreaterThan(
        Date.parse(before.holder?.expiresAt ?? '') + 2 * 24 * 3600 * 1000,
      );
      expect(log).not.toContain('b:promote:start');
      expect(await noteOf(b)()).toBe(`waiting for production:${dataset}, held by run ${a.workflowId}`);
      await a.signal(abortRunSignal, { reason: 'gave up on the fill' });
      await expect(a.result()).rejects.toThrow(WorkflowFailedError);
      await waitForStatus(b, (s) => s.state === 'succeeded');
    });
    expect(log.slice(-4)).toEqual(['b:promote:start', 'b:promote:end', 'b:gapfill:start', 'b:gapfill:end']);
  });
});

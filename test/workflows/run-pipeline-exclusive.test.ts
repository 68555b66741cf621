import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaseActivities } from '../../activities/lease';
import { createPlanActivities } from '../../activities/plan';
import { createPipelineRegistry, definePipeline, param } from '../../pipelines';
import { statusQuery, type RunStatus } from '../../workflows/definitions';
import { leaseStateQuery, leaseWorkflowId } from '../../workflows/lease-definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createDevServerEnv } from '../harness/temporal';
import { StepScript, testKinds, waitForStatus } from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };

// A promotion-like step that holds `production:<dataset>` alone, across runs.
const promoting = definePipeline('promoting', { parameters: { dataset: param.string({ default: 'prod' }) } })
  .step('prepare', { kind: 'script', ...once })
  .step('promote', { kind: 'script', after: ['prepare'], exclusive: 'production:{{dataset}}', ...once })
  .build();

const step = (status: RunStatus, id: string) => status.steps.find((s) => s.id === id);

// On the dev server in real time, as the instance lease's own tests (the lease workflow is started by
// signal-with-start from an activity).
describe('exclusive steps: one holder of a named resource at a time, across runs', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const worker = (script: StepScript) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: `exclusive-${randomUUID()}`,
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
      activities: {
        ...createPlanActivities({ pipelines: createPipelineRegistry([promoting]), kinds: testKinds }),
        ...script.activities(),
        ...createLeaseActivities(),
      },
      maxHeartbeatThrottleInterval: '50 milliseconds',
    });

  it('a second run waits for the first run’s promotion, shows who holds it, and runs after its release; another dataset does not wait', async () => {
    const script = new StepScript();
    const dataset = `ds_${randomUUID().slice(0, 8)}`;
    const releases: Array<() => void> = [];
    const ends: Record<string, number> = {};
    const starts: Record<string, number> = {};
    script.behave('promote', async (execution) => {
      starts[execution.workflowId] = Date.now();
      await new Promise<void>((resolve) => releases.push(resolve));
      ends[execution.workflowId] = Date.now();
    });
    const w = await worker(script);
    const start = (id: string, ds: string) =>
      env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'promoting', params: { dataset: ds } }],
        workflowId: id,
        taskQueue: w.options.taskQueue,
      });
    await w.runUntil(async () => {
      const a = await start(`promoting/a-${dataset}`, dataset);
      await script.when('promote', 'start');
      const b = await start(`promoting/b-${dataset}`, dataset);
      const waiting = await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      expect(step(waiting, 'promote')?.note).toBe(
        `waiting for production:${dataset}, held by run ${a.workflowId}`,
      );
      // Another dataset is another lease: its promotion starts while a's still runs.
      const c = await start(`promoting/c-${dataset}`, `${dataset}_other`);
      await script.when('promote', 'start', 2);
      expect(starts[c.workflowId]).toBeDefined();
      expect(starts[b.workflowId]).toBeUndefined();
      const lease = await env.client.workflow
        .getHandle(leaseWorkflowId(`production:${dataset}`))
        .query(leaseStateQuery);
      expect(lease.holder?.holder).toBe(a.workflowId);
      expect(lease.waiting.map((x) => x.holder)).toEqual([b.workflowId]);

      releases.shift()?.(); // a
      releases.shift()?.(); // c
      await script.when('promote', 'start', 3);
      releases.shift()?.(); // b
      await Promise.all([a.result(), b.result(), c.result()]);
      const done = await b.query(statusQuery);
      expect(step(done, 'promote')?.state).toBe('succeeded');
      expect(step(done, 'promote')?.note).toBeUndefined();
    });
    const a = `promoting/a-${dataset}`;
    const b = `promoting/b-${dataset}`;
    expect(starts[b]).toBeGreaterThanOrEqual(ends[a] as number);
  });

  it('a failed holder releases the resource: the waiting run goes on', async () => {
    const script = new StepScript();
    const dataset = `ds_${randomUUID().slice(0, 8)}`;
    let failFirst: () => void = () => undefined;
    const firstFails = new Promise<void>((resolve) => (failFirst = resolve));
    script.behave('promote', async (execution) => {
      if (execution.workflowId.includes('/a-')) {
        await firstFails;
        throw new Error('promotion failed half way');
      }
    });
    const w = await worker(script);
    const start = (id: string) =>
      env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'promoting', params: { dataset } }],
        workflowId: id,
        taskQueue: w.options.taskQueue,
      });
    await w.runUntil(async () => {
      const a = await start(`promoting/a-${dataset}`);
      await script.when('promote', 'start');
      const b = await start(`promoting/b-${dataset}`);
      await waitForStatus(b, (s) => step(s, 'promote')?.note !== undefined);
      failFirst();
      await expect(a.result()).rejects.toThrow(WorkflowFailedError);
      await b.result();
      expect(script.started('promote')).toBe(2);
    });
  });

  it('refuses at plan time a lease name that a parameter turned into something else', async () => {
    const script = new StepScript();
    const w = await worker(script);
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'promoting', params: { dataset: 'x" --all' } }],
        workflowId: `promoting/hostile-${randomUUID()}`,
        taskQueue: w.options.taskQueue,
      });
      const failure = await handle.result().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      // The workflow fails with planRun's failure (an ActivityFailure) and its non-retryable cause.
      expect(
        String(((failure as WorkflowFailedError).cause as { cause?: Error } | undefined)?.cause?.message),
      ).toMatch(/step promote: exclusive resolves to "production:x\\" --all", which is not a lease name/);
      expect(script.started('prepare')).toBe(0);
    });
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaseActivities } from '../../activities/lease';
import { leaseStateQuery, leaseWorkflowId } from '../../workflows/lease-definitions';
import { createDevServerEnv } from '../harness/temporal';
import { waitFor } from '../integration/fixtures/training';
import { holdInstance, type instanceLease } from './fixtures/lease-holder';

// On the dev server in real time (the time-skipping server skips past a lease's expiry while a
// signal-with-start from an activity is in flight): holds and leases of seconds.
const UNIT = 1_500;

describe('instanceLease (dev server): one holder of a persistent instance at a time, across runs', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const worker = () =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: `lease-${randomUUID()}`,
      workflowsPath: join(__dirname, 'fixtures', 'lease-holder.ts'),
      activities: createLeaseActivities(),
    });

  it('queues a second holder, tells it who holds the instance, and grants it at the release', async () => {
    const w = await worker();
    const instance = `nb-${randomUUID().slice(0, 8)}`;
    const start = (id: string, holdMs: number) =>
      env.client.workflow.start(holdInstance, {
        args: [instance, holdMs, 12 * UNIT],
        workflowId: id,
        taskQueue: w.options.taskQueue,
      });
    const { first, second, state } = await w.runUntil(async () => {
      const a = await start(`run-a-${instance}`, 2 * UNIT);
      // b asks only once a holds the lease, so the order is known.
      await waitFor('a holds the lease', async () => {
        const state = await env.client.workflow.getHandle(leaseWorkflowId(instance)).query(leaseStateQuery);
        return state.holder?.holder === a.workflowId || undefined;
      });
      const b = await start(`run-b-${instance}`, UNIT);
      const [first, second] = await Promise.all([a.result(), b.result()]);
      // Nobody holds or waits: the lease workflow completes, with both grants in its history.
      return {
        first,
        second,
        state: await env.client.workflow.getHandle<typeof instanceLease>(leaseWorkflowId(instance)).result(),
      };
    });
    expect(first.notes).toEqual([]);
    expect(second.notes).toEqual([`waiting for ${instance}, held by run run-a-${instance}`, 'granted']);
    expect(second.grantedAt).toBeGreaterThanOrEqual(first.releasedAt);
    expect(state.holder).toBeUndefined();
    expect(state.history.map((h) => [h.holder, h.ended])).toEqual([
      [`run-a-${instance}`, 'released'],
      [`run-b-${instance}`, 'released'],
    ]);
  }, 60_000);

  it('frees the instance when a holder dies without releasing it, once its lease expires', async () => {
    const w = await worker();
    const instance = `nb-${randomUUID().slice(0, 8)}`;
    const result = await w.runUntil(async () => {
      const dead = await env.client.workflow.start(holdInstance, {
        args: [instance, -1, 3 * UNIT],
        workflowId: `run-dead-${instance}`,
        taskQueue: w.options.taskQueue,
      });
      await waitFor('the dying holder holds the lease', async () => {
        const state = await env.client.workflow.getHandle(leaseWorkflowId(instance)).query(leaseStateQuery);
        return state.holder?.holder === dead.workflowId || undefined;
      });
      await dead.terminate('the worker machine burned down');
      const next = await env.client.workflow.start(holdInstance, {
        args: [instance, 0, UNIT],
        workflowId: `run-next-${instance}`,
        taskQueue: w.options.taskQueue,
      });
      const result = await next.result();
      return {
        result,
        state: await env.client.workflow.getHandle<typeof instanceLease>(leaseWorkflowId(instance)).result(),
      };
    });
    expect(result.result.notes[0]).toBe(`waiting for ${instance}, held by run run-dead-${instance}`);
    expect(result.state.history.map((h) => [h.holder, h.ended])).toEqual([
      [`run-dead-${instance}`, 'expired'],
      [`run-next-${instance}`, 'released'],
    ]);
    const dead = result.state.history[0]!;
    expect(Date.parse(dead.endedAt!) - Date.parse(dead.grantedAt)).toBeGreaterThanOrEqual(3 * UNIT);
  }, 60_000);

  it('ignores malformed requests (from the Web UI or the CLI)', async () => {
    const w = await worker();
    const instance = `nb-${randomUUID().slice(0, 8)}`;
    const state = await w.runUntil(async () => {
      const holder = await env.client.workflow.start(holdInstance, {
        args: [instance, UNIT, 2 * UNIT],
        workflowId: `run-ok-${instance}`,
        taskQueue: w.options.taskQueue,
      });
      const lease = env.client.workflow.getHandle(leaseWorkflowId(instance));
      await waitFor('the holder holds the lease', async () => {
        return (await lease.query(leaseStateQuery)).holder?.holder === holder.workflowId || undefined;
      });
      for (const bad of [null, {}, { holder: '', run: 'x', ttlMs: 1 }, { holder: 'x', run: 'x', ttlMs: -5 }])
        await lease.signal('acquireLease', bad);
      const during = await lease.query(leaseStateQuery);
      await holder.result();
      return during;
    });
    expect(state.waiting).toEqual([]);
  }, 60_000);
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { createReaperActivities } from '../../activities/reaper';
import { createVmActivities } from '../../activities/vm';
import { upsertReaperSchedule, REAPER_SCHEDULE_ID } from '../../api/schedules/reaper-schedule';
import { reapVms } from '../../workflows/reap-vms';
import { ownerLabels } from '../../workflows/vm-labels';
import { createDevServerEnv } from '../harness/temporal';
import { testTempDir } from '../harness/paths';

const CPU = 'cpu-python-template-prod';

/**
 * The reaper on a real dev server and real local VMs: owners are real workflows (one still running —
 * its task queue has no worker —, one terminated) or ids Temporal never saw.
 */
describe('VM reaper (reapVms workflow, local provider, dev server)', () => {
  let env: TestWorkflowEnvironment;
  let root: string;
  let provider: LocalVmProvider;
  let live: string;
  let closed: string;

  beforeAll(async () => {
    env = await createDevServerEnv();
    root = join(testTempDir('reaper'), 'vms');
    provider = new LocalVmProvider({ root, imagesDir: resolve(projectRoot, 'machine-images') });
    live = `run/${randomUUID()}/train/1`;
    closed = `run/${randomUUID()}/train/1`;
    // Workflows on a queue no worker polls stay RUNNING: a training that is still going.
    for (const workflowId of [live, closed])
      await env.client.workflow.start('trainOnVm', { workflowId, taskQueue: 'nobody-polls', args: [] });
    await env.client.workflow.getHandle(closed).terminate('finished');
    await Promise.all([
      provider.provision({
        name: 'orphan',
        machineImage: CPU,
        labels: { run_id: 'r', ...ownerLabels(closed) },
      }),
      provider.provision({
        name: 'unknown',
        machineImage: CPU,
        labels: { run_id: 'r', ...ownerLabels('never/was') },
      }),
      provider.provision({ name: 'alive', machineImage: CPU, labels: { run_id: 'r', ...ownerLabels(live) } }),
      provider.provision({
        name: 'notebook',
        machineImage: CPU,
        persistent: true,
        labels: { run_id: 'r', ...ownerLabels(closed) },
      }),
      // Not Retrainer's: no run or owner label.
      provider.provision({ name: 'foreign', machineImage: CPU, labels: { team: 'other' } }),
    ]);
  });

  afterAll(async () => {
    if (provider) for (const vm of await provider.list()) await provider.stop(vm.name);
    if (root) rmSync(root, { recursive: true, force: true });
    await env?.teardown();
  });

  const runReaper = async (dryRun: boolean) => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `reaper-${randomUUID()}`,
      workflowsPath: resolve(__dirname, '..', '..', 'workflows', 'reap-vms.ts'),
      activities: {
        ...createReaperActivities({ provider, client: async () => env.client }),
        ...createVmActivities(provider),
      },
    });
    return await worker.runUntil(
      env.client.workflow.execute(reapVms, {
        args: [{ dryRun }],
        workflowId: `reaper-${randomUUID()}`,
        taskQueue: worker.options.taskQueue,
      }),
    );
  };

  it('a dry run reports and changes nothing; then the orphans are deleted, the live one kept, the idle persistent one stopped', async () => {
    const dry = await runReaper(true);
    const actions = Object.fromEntries(dry.decisions.map((d) => [d.vmName, d.action]));
    expect(actions).toEqual({ alive: 'keep', notebook: 'stop', orphan: 'delete', unknown: 'delete' });
    expect(dry).toMatchObject({ dryRun: true, checked: 4, deleted: [], stopped: [], failed: [] });
    expect(dry.decisions.find((d) => d.vmName === 'orphan')).toMatchObject({
      owner: closed,
      ownerState: 'closed',
      ownerStatus: 'TERMINATED',
    });
    expect(dry.decisions.find((d) => d.vmName === 'unknown')?.ownerState).toBe('unknown');
    expect((await provider.list()).map((vm) => vm.status)).toEqual(Array(5).fill('RUNNING'));

    const real = await runReaper(false);
    expect(real).toMatchObject({ dryRun: false, failed: [] });
    expect(real.deleted.sort()).toEqual(['orphan', 'unknown']);
    expect(real.stopped).toEqual(['notebook']);
    const after = Object.fromEntries((await provider.list()).map((vm) => [vm.name, vm.status]));
    expect(after).toEqual({ alive: 'RUNNING', foreign: 'RUNNING', notebook: 'STOPPED' });

    // Nothing left to do: the stopped notebook is kept, the live training's VM too.
    const again = await runReaper(false);
    expect(again).toMatchObject({ deleted: [], stopped: [], checked: 2 });
  });

  it('npm run schedules -- reaper: a schedule every 15 minutes, updated in place when run again', async () => {
    const first = await upsertReaperSchedule(
      env.client,
      { TEMPORAL_TASK_QUEUE: 'retrainer' },
      { paused: true },
    );
    expect(first).toMatchObject({ scheduleId: REAPER_SCHEDULE_ID, every: '15 minutes', updated: false });
    const second = await upsertReaperSchedule(
      env.client,
      { TEMPORAL_TASK_QUEUE: 'retrainer' },
      { paused: true, dryRun: true },
    );
    expect(second).toMatchObject({ updated: true, dryRun: true });
    const description = await env.client.schedule.getHandle(REAPER_SCHEDULE_ID).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(15 * 60_000);
    expect(description.action).toMatchObject({ workflowType: 'reapVms', args: [{ dryRun: true }] });
    expect(description.state.paused).toBe(true);
  });
});

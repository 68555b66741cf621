import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { Config } from '../../config';
import type { ReapVmsInput } from '../../workflows/reap-vms';

export const REAPER_SCHEDULE_ID = 'retrainer-vm-reaper';
export const REAPER_WORKFLOW = 'reapVms';

export interface ReaperScheduleOptions {
  /** How often the reaper runs (default every 15 minutes). */
  every?: string;
  dryRun?: boolean;
  paused?: boolean;
}

/**
 * Creates (or updates in place) the Temporal Schedule that runs the `reapVms` workflow. Overlapping
 * runs are skipped: a slow reaper is never doubled.
 */
export async function upsertReaperSchedule(
  client: Client,
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>,
  options: ReaperScheduleOptions = {},
): Promise<{ scheduleId: string; every: string; dryRun: boolean; paused: boolean; updated: boolean }> {
  const every = options.every ?? '15 minutes';
  const args: [ReapVmsInput] = [{ dryRun: options.dryRun === true }];
  const action = {
    type: 'startWorkflow' as const,
    workflowType: REAPER_WORKFLOW,
    workflowId: REAPER_SCHEDULE_ID,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args,
    workflowExecutionTimeout: '1 hour' as Duration,
  };
  const spec = { intervals: [{ every: every as Duration }] };
  const paused = options.paused === true;
  try {
    await client.schedule.create({
      scheduleId: REAPER_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      state: { paused, note: 'Retrainer VM reaper (npm run schedules -- reaper)' },
    });
    return { scheduleId: REAPER_SCHEDULE_ID, every, dryRun: args[0].dryRun === true, paused, updated: false };
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(REAPER_SCHEDULE_ID);
  await handle.update((previous) => ({
    ...previous,
    spec,
    action,
    state: { ...previous.state, paused },
  }));
  return { scheduleId: REAPER_SCHEDULE_ID, every, dryRun: args[0].dryRun === true, paused, updated: true };
}

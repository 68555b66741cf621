import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { JoinRunActivities, JoinRunResult } from '../activities/join-run';
import type { JsonPrimitive } from '../pipelines/core/types';

const { joinOrStartRun } = proxyActivities<JoinRunActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 10 },
});

const SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

export interface JoinDailyRunInput {
  pipeline: string;
  params?: Record<string, JsonPrimitive>;
  /** The step a running run of the day redoes to take in what is there now. */
  rerunFrom: string;
  /** Who the run is started by when none of the day is open (`schedule:<id> (set by <token>)`). */
  startedBy?: string;
}

/**
 * A schedule's action for pipelines with one run per day (sensor-clustering): the day is the
 * schedule's nominal date (a backfill gets its own days), and the run of that day is joined or
 * started through the same signal-with-start as a data arrival, so the 16:00 schedule and sensors
 * landing never make two runs of one day.
 */
export async function joinDailyRun(input: JoinDailyRunInput): Promise<JoinRunResult> {
  const info = workflowInfo();
  const nominal = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const date = nominal.toISOString().slice(0, 10);
  return await joinOrStartRun({
    pipeline: input.pipeline,
    runKey: date,
    cutoff: date,
    ...(input.params ? { params: input.params } : {}),
    rerunFrom: input.rerunFrom,
    reason: `scheduled daily run ${nominal.toISOString()}`,
    // Only the activity's input changes (no new command), so runs in flight replay as before.
    ...(input.startedBy ? { startedBy: input.startedBy } : {}),
  });
}

// Client-side readers of a training's progress (a query and the server's description), shared by the API,
// tests and scripts; nothing but Temporal calls.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  trainingProgressQuery,
  type MonitorHeartbeat,
  type TrainingProgress,
} from '../workflows/training-types';

export interface LiveTrainingProgress extends TrainingProgress {
  /** The monitor's last heartbeat (offsets, last metric, reconnects, log tail), while it runs. */
  live?: MonitorHeartbeat;
  /** Attempt number of the monitor activity (above 1 after a worker crash or heartbeat timeout). */
  monitorAttempt?: number;
}

/**
 * Live progress of a `trainOnVm` run for the API and tests: the workflow's `trainingProgress` query
 * (phase, attempt, VM) merged with the monitor's heartbeat details from the pending activities, which
 * is where step, loss and elapsed time live without ever entering history.
 */
export async function readTrainingProgress(
  client: Client,
  workflowId: string,
): Promise<LiveTrainingProgress> {
  const handle = client.workflow.getHandle(workflowId);
  const [progress, monitor] = await Promise.all([
    handle.query(trainingProgressQuery),
    readMonitorHeartbeat(client, workflowId),
  ]);
  if (!monitor) return progress;
  return {
    ...progress,
    ...monitor,
    lastMetric: monitor.live.lastMetric ?? progress.lastMetric,
    elapsedMs: progress.elapsedMs + monitor.live.elapsedMs,
  };
}

/**
 * The running monitor's last heartbeat, from the server's description of the workflow alone. Unlike
 * a query it needs no workflow worker, so it answers while every worker is down.
 */
export async function readMonitorHeartbeat(
  client: Client,
  workflowId: string,
): Promise<{ live: MonitorHeartbeat; monitorAttempt: number } | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const pending = description.raw.pendingActivities?.find(
    (activity) => activity.activityType?.name === 'monitorTraining',
  );
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  if (!pending || !payload) return undefined;
  return {
    live: defaultPayloadConverter.fromPayload<MonitorHeartbeat>(payload as Payload),
    monitorAttempt: pending.attempt ?? 1,
  };
}

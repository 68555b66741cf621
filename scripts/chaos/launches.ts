import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { setTimeout as sleep } from 'node:timers/promises';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/**
 * Waits until a training's launch activity (recognised by the run id in its heartbeat details) has
 * been started by a worker, at `minAttempt` or later; returns that worker's identity.
 */
export async function findLaunch(
  client: Client,
  workflowId: string,
  runId: string,
  minAttempt: number,
  timeoutMs: number,
): Promise<{ childId: string; identity: string; attempt: number; startedAt: number | undefined }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const parent = await client.workflow.getHandle(workflowId).describe();
      for (const child of parent.raw.pendingChildren ?? []) {
        if (!child.workflowId) continue;
        const description = await client.workflow.getHandle(child.workflowId).describe();
        for (const activity of description.raw.pendingActivities ?? []) {
          if (activity.activityType?.name !== 'launchTraining' || activity.state !== STARTED) continue;
          if ((activity.attempt ?? 1) < minAttempt || !activity.lastWorkerIdentity) continue;
          const payload = activity.heartbeatDetails?.payloads?.[0];
          const details = payload
            ? defaultPayloadConverter.fromPayload<{ runId?: string }>(payload as Payload)
            : undefined;
          if (details?.runId === runId) {
            return {
              childId: child.workflowId,
              identity: activity.lastWorkerIdentity,
              attempt: activity.attempt ?? 1,
              // When this attempt started (the server's clock, the same machine): the wait on a lock starts there.
              startedAt: optionalTsToMs(activity.lastStartedTime),
            };
          }
        }
      }
    } catch {
      // the server restarting, a child just closing: look again
    }
    await sleep(100);
  }
  throw new Error(`no launch of ${runId} (attempt ≥ ${minAttempt}) started within ${timeoutMs / 1000} s`);
}

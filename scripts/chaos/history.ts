// Reading what happened from workflow histories: activities by type and attempt, the workers that
// ran tasks, the trainOnVm children of a run.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface ActivityRecord {
  type: string;
  /** The task queue it was scheduled on. */
  taskQueue: string;
  /** Decoded first argument. */
  input: unknown;
  scheduledAt: number;
  /** When it completed, failed or timed out for good; undefined while pending. */
  closedAt?: number;
  /** Attempt of the last start (above 1 after a worker died in it or it failed and was retried). */
  attempt: number;
  outcome?: 'completed' | 'failed' | 'timed-out' | 'cancelled';
  identity?: string;
}

export interface HistoryDigest {
  workflowId: string;
  activities: ActivityRecord[];
  /** Worker identities that ran workflow or activity tasks. */
  identities: Set<string>;
  /** trainOnVm children started (their workflow ids). */
  trainingChildren: string[];
}

const decode = (payload: unknown): unknown =>
  payload ? defaultPayloadConverter.fromPayload(payload as Payload) : undefined;

/** Digest of one workflow's history. */
export async function digestHistory(client: Client, workflowId: string): Promise<HistoryDigest> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events: HistoryEvent[] = history.events ?? [];
  const byScheduled = new Map<number, ActivityRecord>();
  const identities = new Set<string>();
  const trainingChildren: string[] = [];
  const at = (event: HistoryEvent) => tsToMs(event.eventTime);
  for (const event of events) {
    const id = Number(event.eventId);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      byScheduled.set(id, {
        type: scheduled.activityType?.name ?? '',
        taskQueue: scheduled.taskQueue?.name ?? '',
        input: decode(scheduled.input?.payloads?.[0]),
        scheduledAt: at(event),
        attempt: 1,
      });
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const record = byScheduled.get(Number(started.scheduledEventId));
      if (record) {
        record.attempt = started.attempt ?? 1;
        record.identity = started.identity ?? undefined;
      }
      if (started.identity) identities.add(started.identity);
    }
    const workflowTask = event.workflowTaskStartedEventAttributes;
    if (workflowTask?.identity) identities.add(workflowTask.identity);
    const closes: [{ scheduledEventId?: unknown } | null | undefined, ActivityRecord['outcome']][] = [
      [event.activityTaskCompletedEventAttributes, 'completed'],
      [event.activityTaskFailedEventAttributes, 'failed'],
      [event.activityTaskTimedOutEventAttributes, 'timed-out'],
      [event.activityTaskCanceledEventAttributes, 'cancelled'],
    ];
    for (const [attributes, outcome] of closes) {
      const record = attributes ? byScheduled.get(Number(attributes.scheduledEventId)) : undefined;
      if (record) Object.assign(record, { closedAt: at(event), outcome });
    }
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child?.workflowType?.name === 'trainOnVm' && child.workflowId)
      trainingChildren.push(child.workflowId);
  }
  return { workflowId, activities: [...byScheduled.values()], identities, trainingChildren };
}

import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import { createPlanActivities } from '../../activities/plan';
import { echoKind, gateKind } from '../../activities/kinds/basic';
import {
  createStepActivities,
  type StepExecution,
  type StepHandlerContext,
  type StepResult,
} from '../../activities/steps';
import type { Notification } from '../../activities/notify';
import { createPipelineRegistry } from '../../pipelines';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { statusQuery, type RunPipelineInput, type RunStatus } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { bound, looseKind } from '../harness/kinds';
import { sharedWorkflowBundle } from '../harness/temporal';

/** The kinds of the runner's tests: `script` (the stand-in below), `echo` and `gate`. */
export const testKinds = [looseKind('script'), echoKind, gateKind];

export type Behavior = (execution: StepExecution, context: StepHandlerContext) => Promise<StepResult | void>;

export interface StepEvent {
  step: string;
  event: 'start' | 'end' | 'error' | 'cancelled';
  attempt: number;
}

/**
 * The boundary stand-in for step kinds: every `script` step records its start and end, behaves as the
 * test says (default: succeed at once), and "has" the outputs the test put in `existing`. Tests wait
 * on its events, never on the clock.
 */
export class StepScript {
  readonly events: StepEvent[] = [];
  readonly notifications: Notification[] = [];
  readonly existing = new Set<string>();
  private readonly behaviors = new Map<string, Behavior>();
  private readonly emitter = new EventEmitter();

  behave(step: string, behavior: Behavior): this {
    this.behaviors.set(step, behavior);
    return this;
  }

  /** Resolves at the `nth` time `event` happens for `step` (or at once if it already has). */
  async when(step: string, event: StepEvent['event'], nth = 1): Promise<void> {
    const seen = () => this.events.filter((e) => e.step === step && e.event === event).length >= nth;
    while (!seen()) await once(this.emitter, 'event');
  }

  /** Resolves when a notification of `event` about `step` was sent. */
  async notified(event: Notification['event'], step?: string): Promise<Notification> {
    const find = () =>
      this.notifications.find((n) => n.event === event && (step === undefined || n.steps.includes(step)));
    for (;;) {
      const found = find();
      if (found) return found;
      await once(this.emitter, 'event');
    }
  }

  started(step: string): number {
    return this.events.filter((e) => e.step === step && e.event === 'start').length;
  }

  /** The script's activities; `echo` adds the built-in handler the demo pipeline uses. */
  activities(options: { echo?: boolean } = {}) {
    const script = looseKind('script', {
      run: async (execution, context) => {
        this.record({ step: execution.step.id, event: 'start', attempt: execution.attempt });
        try {
          const result = await (this.behaviors.get(execution.step.id) ?? (async () => undefined))(
            execution,
            context,
          );
          this.record({ step: execution.step.id, event: 'end', attempt: execution.attempt });
          return result;
        } catch (error) {
          const event = context.signal.aborted ? 'cancelled' : 'error';
          this.record({ step: execution.step.id, event, attempt: execution.attempt });
          throw error;
        }
      },
      outputsExist: async (execution) =>
        Object.values(execution.outputs).every((name) => this.existing.has(name)),
    });
    const steps = createStepActivities(bound(script, ...(options.echo ? [echoKind] : [])));
    return {
      ...steps,
      notify: async (notification: Notification) => {
        this.notifications.push(notification);
        this.emitter.emit('event');
        return { channels: ['test'] };
      },
    };
  }

  private record(event: StepEvent): void {
    this.events.push(event);
    this.emitter.emit('event');
  }
}

/** Resolves when the handler's step is cancelled (the activity's heartbeats deliver it). */
export const untilCancelled: Behavior = (_execution, context) =>
  new Promise((_resolve, reject) => {
    const onAbort = () => reject(new Error('cancelled'));
    if (context.signal.aborted) onAbort();
    else context.signal.addEventListener('abort', onAbort);
  });

export const failing =
  (message: string): Behavior =>
  async () => {
    throw new Error(message);
  };

/** A fresh worker for one test: the real plan activity over `pipelines`, the script's step kinds. */
export async function createRunnerWorker(
  env: TestWorkflowEnvironment,
  script: StepScript,
  pipelines: PipelineDefinition[],
  options: { echo?: boolean } = {},
): Promise<Worker> {
  return await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `runner-${randomUUID()}`,
    workflowBundle: await sharedWorkflowBundle(join(__dirname, '..', '..', 'workflows', 'run-pipeline.ts')),
    activities: {
      ...createPlanActivities({ pipelines: createPipelineRegistry(pipelines), kinds: testKinds }),
      ...script.activities(options),
    },
    // Cancellation reaches an activity through heartbeats; keep that prompt in tests.
    maxHeartbeatThrottleInterval: '50 milliseconds',
  });
}

export const uniqueId = (prefix: string): string => `${prefix}/${randomUUID()}`;

/** A fresh worker running only `pipeline`, and a run of it on the worker's queue (picked up once the test runs the worker). */
export async function startRun(
  env: TestWorkflowEnvironment,
  script: StepScript,
  pipeline: PipelineDefinition,
  input: Omit<RunPipelineInput, 'pipeline'> = {},
) {
  const worker = await createRunnerWorker(env, script, [pipeline]);
  const handle = await env.client.workflow.start(runPipeline, {
    args: [{ pipeline: pipeline.name, ...input }],
    workflowId: uniqueId(pipeline.name),
    taskQueue: worker.options.taskQueue,
  });
  return { worker, handle };
}

/**
 * Queries `status` until `predicate` holds. A query answers from the state the worker has processed,
 * so this also orders a test's next signal after what the workflow has already seen.
 */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (status: RunStatus) => boolean,
): Promise<RunStatus> {
  for (;;) {
    const status = await handle.query(statusQuery);
    if (predicate(status)) return status;
  }
}

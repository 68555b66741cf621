import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  executeChild,
  patched,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { Duration, RetryPolicy } from '@temporalio/common';
import type { StepActivities, StepExecution, StepResult } from '../../activities/steps';
import type { TrainingStepActivities } from '../../activities/kinds/training';
import type { PlannedStep, StepRuns } from '../../pipelines/core/types';
import type { VmUsage } from '../cost';
import { RunnerErrorType } from '../definitions';
import { trainOnVm } from '../train-on-vm';
import { InstanceLeaseHolder, type LeaseUpdateRouter } from '../lease-holder';
import { EXCLUSIVE_SPAN, type ExclusiveSpans } from './exclusive-spans';
import { TrainingErrorType, type TrainOnVmResult } from '../training-types';

/** What a step reports to the runner while it runs. */
export interface StepHooks {
  /** The VMs a training used and when they ran (for VM hours and cost), once its child has ended. */
  onVmUsage?: (vms: VmUsage[]) => void;
  /** Routes lease grants to the run's exclusive steps (required for a step with `exclusive`). */
  leases?: LeaseUpdateRouter;
  /** "waiting for <lease>, held by run X" while an exclusive step waits; undefined once granted. */
  onWaiting?: (note: string | undefined) => void;
  /** The run's hold on its exclusive leases across steps (the runner releases them). */
  spans?: ExclusiveSpans;
}

/** Default retry of a step's activity when the definition sets none. */
const DEFAULT_STEP_RETRY = { maximumAttempts: 3 };

function activityOptions(step: PlannedStep): ActivityOptions {
  return {
    startToCloseTimeout: step.timeout as Duration,
    // executeStep heartbeats every second; a silent worker is noticed in 30 s, and cancellation
    // (rerunFrom, abortRun) reaches the handler through these heartbeats.
    heartbeatTimeout: '30 seconds',
    // "Cancelled first": a rerun never starts while the old attempt may still be writing.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...DEFAULT_STEP_RETRY, ...(step.retry ?? {}) } as RetryPolicy,
    summary: `${step.id} (${step.kind})`,
  };
}

function localActivityOptions(step: PlannedStep): LocalActivityOptions {
  return {
    startToCloseTimeout: step.timeout as Duration,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...DEFAULT_STEP_RETRY, ...(step.retry ?? {}) } as RetryPolicy,
  };
}

/**
 * How a planned step runs: what its plan recorded from its kind. Plans recorded before kinds were
 * plugins carry no `runs`; for those runs (still in flight) the kind names decide, as they did then.
 */
export function runsOf(step: Pick<PlannedStep, 'runs' | 'kind'>): StepRuns {
  if (step.runs) return step.runs;
  if (step.kind === 'gate') return { by: 'nothing' };
  if (step.kind === 'train') return { by: 'child-workflow', workflow: 'trainOnVm' };
  return { by: 'activity' };
}

/**
 * THE place where a step is dispatched, on how its plan says it runs (never on kind names): nothing
 * (a gate or join point only orders the DAG), the generic `executeStep` activity (activities/steps.ts
 * finds the kind's handler), or a child workflow.
 */
export async function dispatchStep(
  step: PlannedStep,
  execution: StepExecution,
  hooks: StepHooks = {},
): Promise<StepResult> {
  // Plans carry `exclusive` only since the change; the patch marks the lease's activities in history.
  if (step.exclusive && hooks.leases && patched('exclusive-steps')) {
    // Runs (and replays) that dispatched their exclusive steps before the span keep per-step leases.
    if (hooks.spans && patched(EXCLUSIVE_SPAN)) {
      return await inSpan(step.exclusive, hooks, () => runStep(step, execution, hooks));
    }
    return await holdingLease(step.exclusive, step, hooks, () => runStep(step, execution, hooks));
  }
  return await runStep(step, execution, hooks);
}

/** A step's lease timeout: its timeout × its attempts, plus an hour. */
export function exclusiveTtlMs(step: Pick<PlannedStep, 'retry' | 'timeout'>): number {
  const attempts = Math.max(1, step.retry?.maximumAttempts ?? DEFAULT_STEP_RETRY.maximumAttempts);
  return attempts * msToNumber(step.timeout as Duration) + 3_600_000;
}

/**
 * Runs `body` within the run's hold on `name` (ExclusiveSpans): acquired by the first step naming it,
 * kept after `body` whatever its outcome (the runner releases it once every step naming it settled or
 * the run ended). Steps of the run with the same name still take turns.
 */
async function inSpan<T>(name: string, hooks: StepHooks, body: () => Promise<T>): Promise<T> {
  const leases = hooks.leases as LeaseUpdateRouter;
  await leases.take(name);
  try {
    await (hooks.spans as ExclusiveSpans).enter(name, (note) => hooks.onWaiting?.(note));
    return await body();
  } finally {
    leases.free(name);
  }
}

/**
 * Runs `body` holding the lease `name` across runs (the instance-lease workflow `instance-lease/<name>`),
 * released in a non-cancellable scope whatever happens. A holder that dies frees it at the lease's expiry:
 * the step's timeout × its attempts, plus an hour.
 */
async function holdingLease<T>(
  name: string,
  step: PlannedStep,
  hooks: StepHooks,
  body: () => Promise<T>,
): Promise<T> {
  const leases = hooks.leases as LeaseUpdateRouter;
  await leases.take(name);
  const holder = new InstanceLeaseHolder(name, exclusiveTtlMs(step), leases);
  try {
    await holder.acquire((note) => hooks.onWaiting?.(note));
    return await body();
  } finally {
    await CancellationScope.nonCancellable(async () => {
      hooks.onWaiting?.(undefined);
      await holder.release();
      leases.give(name);
    });
  }
}

async function runStep(step: PlannedStep, execution: StepExecution, hooks: StepHooks): Promise<StepResult> {
  const runs = runsOf(step);
  switch (runs.by) {
    case 'nothing':
      return { outputs: execution.outputs };
    case 'local-activity': {
      // Plans name local activities only since the change; the patch marks such runs in history.
      if (patched('local-activity-kinds')) {
        const { executeStep } = proxyLocalActivities<StepActivities>(localActivityOptions(step));
        return await executeStep(execution);
      }
      const { executeStep } = proxyActivities<StepActivities>(activityOptions(step));
      return await executeStep(execution);
    }
    case 'activity': {
      const { executeStep } = proxyActivities<StepActivities>(activityOptions(step));
      return await executeStep(execution);
    }
    case 'child-workflow':
      switch (runs.workflow) {
        case 'trainOnVm':
          return await trainStep(step, execution, hooks);
        default:
          return unreachable(runs.workflow);
      }
    default:
      return unreachable(runs);
  }
}

/** Exhaustiveness: adding a way to run (or a child workflow) without a case here does not compile. */
function unreachable(value: never): never {
  throw ApplicationFailure.create({
    type: RunnerErrorType.UnknownStepKind,
    message: `no dispatch for ${JSON.stringify(value)}`,
    nonRetryable: true,
  });
}

/** Child workflow id of one attempt of a training step: one per run, step and attempt, never reused. */
export const trainingWorkflowId = (
  execution: Pick<StepExecution, 'workflowId' | 'step' | 'attempt' | 'item'>,
): string =>
  `${execution.workflowId}/${execution.step.id}${execution.item ? `/item-${execution.item.index}` : ''}/${execution.attempt}`;

/**
 * A training step: export its data and build the child's input (activity), train on a VM (the
 * `trainOnVm` child workflow, cancelled with the step's scope — rerunFrom, abortRun — so its own
 * teardown runs), then file the model under the step's output (activity). A training that needs a
 * decision fails the step with the training's failure type, so `onFailure: 'wait'` puts it in
 * awaiting-decision; its latest checkpoint is filed first, for an operator who marks it succeeded.
 */
async function trainStep(step: PlannedStep, execution: StepExecution, hooks: StepHooks): Promise<StepResult> {
  const { prepareTrainingStep, finishTrainingStep, discardTrainingInputs } =
    proxyActivities<TrainingStepActivities>({
      startToCloseTimeout: '1 hour',
      // They heartbeat: a worker that dies in an export is noticed in 30 s, not after the hour.
      heartbeatTimeout: '30 seconds',
      retry: { ...DEFAULT_STEP_RETRY, ...(step.retry ?? {}) } as RetryPolicy,
      summary: `${step.id} (${step.kind})`,
    });
  const input = await prepareTrainingStep(execution);
  let result: TrainOnVmResult;
  try {
    result = await executeChild(trainOnVm, {
      args: [input],
      workflowId: trainingWorkflowId(execution),
      // The SDK's default, stated: a rerun or abort waits until the child has torn its VMs down.
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      staticSummary: `${step.id}: ${input.trainingId}`,
    });
  } catch (error) {
    const failed = failedTrainingResult(error);
    if (failed?.vms) hooks.onVmUsage?.(failed.vms);
    await CancellationScope.nonCancellable(() => discardTrainingInputs({ trainingId: input.trainingId }));
    throw error;
  }
  if (result.vms) hooks.onVmUsage?.(result.vms);
  const finished = await finishTrainingStep({ execution, trainingId: input.trainingId, result });
  if (result.status === 'needs-decision') {
    throw ApplicationFailure.create({
      type: result.reason ?? TrainingErrorType.TRAINING_FAILED,
      message: `training ${input.trainingId} needs a decision: ${result.message}`,
      nonRetryable: true,
      details: [finished.info ?? null],
    });
  }
  return finished;
}

/** The result a training attached to its failure (`onExhausted: 'fail'`), if any. */
function failedTrainingResult(error: unknown): Partial<TrainOnVmResult> | undefined {
  const cause = error instanceof ChildWorkflowFailure ? error.cause : undefined;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const details = cause.details?.[0];
  return details && typeof details === 'object' ? (details as Partial<TrainOnVmResult>) : undefined;
}

const { outputsExist } = proxyActivities<StepActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});

/** Whether a step's outputs exist: true, false, or null when its kind cannot tell. */
export async function checkOutputs(
  step: PlannedStep,
  execution: Pick<StepExecution, 'step' | 'outputs' | 'workflowId' | 'pipeline'>,
): Promise<boolean | null> {
  if (runsOf(step).by === 'nothing' || Object.keys(execution.outputs).length === 0) return null;
  return await outputsExist(execution);
}

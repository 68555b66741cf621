import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Duration, RetryPolicy } from '@temporalio/common';
import type { StepActivities, StepExecution, StepResult } from '../../activities/steps';
import type { PlannedStep } from '../../pipelines/types';

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

/**
 * THE place where a step kind is dispatched. Everything but the built-in `gate` runs through the
 * generic `executeStep` activity (activities/steps.ts maps the kind to a handler).
 *
 * To run a kind as a child workflow, add a case here, e.g. for `train`:
 *   case 'train': return await executeChild(trainOnVm, { args: [...], workflowId: `${execution.workflowId}/${step.id}/${execution.attempt}` });
 * The child is cancelled with the step's scope (rerunFrom, abortRun), so its own teardown runs.
 */
export async function dispatchStep(step: PlannedStep, execution: StepExecution): Promise<StepResult> {
  switch (step.kind) {
    case 'gate':
      // Nothing to run: an approval gate (or a join point) only orders the DAG.
      return { outputs: execution.outputs };
    default: {
      const { executeStep } = proxyActivities<StepActivities>(activityOptions(step));
      return await executeStep(execution);
    }
  }
}

const { outputsExist } = proxyActivities<StepActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/** Whether a step's outputs exist: true, false, or null when its kind cannot tell. */
export async function checkOutputs(
  step: PlannedStep,
  execution: Pick<StepExecution, 'step' | 'outputs' | 'workflowId' | 'pipeline'>,
): Promise<boolean | null> {
  if (step.kind === 'gate' || Object.keys(execution.outputs).length === 0) return null;
  return await outputsExist(execution);
}

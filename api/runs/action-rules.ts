import type { RunStatus, StepState } from '../../workflows/definitions';

export type OperatorAction = 'markSucceeded' | 'retryStep' | 'rerunFrom' | 'approve';

const FINISHED_RUN = new Set(['succeeded', 'failed', 'aborted']);

/** Step states each action fits; anything else is a 409 (checked before signalling). */
const FITS: Record<OperatorAction, readonly StepState[]> = {
  markSucceeded: ['pending', 'failed', 'awaiting-decision', 'skipped'],
  retryStep: ['failed', 'awaiting-decision'],
  rerunFrom: ['succeeded', 'marked-succeeded', 'cached', 'reused', 'failed', 'awaiting-decision', 'skipped'],
  approve: ['awaiting-decision'],
};

export type ActionCheck = { ok: true } | { ok: false; status: 404 | 409; message: string };

/** Whether an operator action fits a run's current status, and if not, why (404 or 409). */
export function checkStepAction(status: RunStatus, action: OperatorAction, stepId: string): ActionCheck {
  const step = status.steps.find((candidate) => candidate.id === stepId);
  if (!step) return { ok: false, status: 404, message: `run ${status.workflowId} has no step ${stepId}` };
  if (FINISHED_RUN.has(status.state)) {
    return {
      ok: false,
      status: 409,
      message: `run ${status.workflowId} is ${status.state}; start a new run with from=${stepId} and reuseRunId=${status.workflowId}`,
    };
  }
  if (action === 'approve' && step.awaiting !== 'approval') {
    return {
      ok: false,
      status: 409,
      message: `step ${stepId} is ${step.state} and is not waiting for approval`,
    };
  }
  if (!FITS[action].includes(step.state)) {
    return {
      ok: false,
      status: 409,
      message: `${action} does not fit step ${stepId} in state ${step.state}`,
    };
  }
  return { ok: true };
}

export function checkAbort(status: RunStatus): ActionCheck {
  if (FINISHED_RUN.has(status.state))
    return { ok: false, status: 409, message: `run ${status.workflowId} is already ${status.state}` };
  return { ok: true };
}

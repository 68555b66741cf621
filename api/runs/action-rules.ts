import type { RunStatus, SignalRecord, StepState, StepStatus } from '../../workflows/definitions';

export type OperatorAction = 'markSucceeded' | 'retryStep' | 'rerunFrom' | 'approve';

const FINISHED_RUN = new Set(['succeeded', 'failed', 'aborted']);

export type ActionCheck = { ok: true } | { ok: false; status: 404 | 409; message: string };

const conflict = (message: string): ActionCheck => ({ ok: false, status: 409, message });

/** The steps that run after `id`, directly or not, and `id` itself. */
function downstream(steps: StepStatus[], id: string): StepStatus[] {
  const found = new Set([id]);
  for (let grew = true; grew;) {
    grew = false;
    for (const step of steps) {
      if (!found.has(step.id) && step.after.some((dep) => found.has(dep))) {
        found.add(step.id);
        grew = true;
      }
    }
  }
  return steps.filter((step) => found.has(step.id));
}

/**
 * Whether an operator action fits a run's current status (the API answers 404 or 409 before
 * signalling). These mirror the workflow's own rules (workflows/runner/step-record.ts); the workflow
 * stays the judge: a signal it rejects anyway (a race) is reported as a 409 too.
 */
export function checkStepAction(status: RunStatus, action: OperatorAction, stepId: string): ActionCheck {
  const step = status.steps.find((candidate) => candidate.id === stepId);
  if (!step) return { ok: false, status: 404, message: `run ${status.workflowId} has no step ${stepId}` };
  if (FINISHED_RUN.has(status.state)) {
    return conflict(
      `run ${status.workflowId} is ${status.state}; start a new run with from=${stepId} and reuseRunId=${status.workflowId}`,
    );
  }
  const is = (...states: StepState[]) => states.includes(step.state);
  switch (action) {
    case 'markSucceeded':
      return is('pending', 'failed', 'awaiting-decision', 'skipped')
        ? { ok: true }
        : conflict(
            `step ${stepId} is ${step.state}; only a pending, skipped, failed or waiting step can be marked succeeded`,
          );
    case 'retryStep':
      return is('failed') || (is('awaiting-decision') && step.awaiting === 'failure')
        ? { ok: true }
        : conflict(
            `step ${stepId} is ${step.state}; only a failed step or one waiting after a failure can be retried`,
          );
    case 'approve': {
      const needsApproval =
        status.plan?.steps.find((planned) => planned.id === stepId)?.approval ?? step.awaiting === 'approval';
      if (!needsApproval) return conflict(`step ${stepId} needs no approval`);
      return is('pending', 'running') || step.awaiting === 'approval'
        ? { ok: true }
        : conflict(`step ${stepId} is ${step.state}; it can no longer be approved`);
    }
    case 'rerunFrom':
      return downstream(status.steps, stepId).every((candidate) => candidate.state === 'pending')
        ? conflict(`step ${stepId} and its downstream have not started; there is nothing to rerun`)
        : { ok: true };
  }
}

export function checkAbort(status: RunStatus): ActionCheck {
  if (FINISHED_RUN.has(status.state)) return conflict(`run ${status.workflowId} is already ${status.state}`);
  return { ok: true };
}

/** All signal records of a status, accepted and rejected. */
export const signalCount = (status: RunStatus): number =>
  status.operatorActions.length + status.rejectedSignals.length;

/** The workflow's verdict on the newest signal, once it has recorded it. */
export function newestSignal(status: RunStatus): SignalRecord | undefined {
  return [...status.operatorActions, ...status.rejectedSignals]
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1);
}

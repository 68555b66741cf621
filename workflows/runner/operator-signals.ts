import { setHandler } from '@temporalio/workflow';
import { downstreamOf } from '../../pipelines/core/graph';
import type { Plan } from '../../pipelines/core/types';
import {
  abortRunSignal,
  approveSignal,
  markSucceededSignal,
  rerunFromSignal,
  retryStepSignal,
  statusQuery,
  stepNoteSignal,
} from '../definitions';
import { now, type RunContext } from './run-context';
import { approveRejection, markSucceededRejection, retryRejection, type StepRecord } from './step-record';

/**
 * The status query and the operator signals. Handlers are synchronous: they check the message against
 * the current state (recording a rejection with its reason when it does not fit), change the state,
 * and wake the scheduler; waiting (for cancellations, for work) happens in the scheduler.
 */
export function installOperatorHandlers(run: RunContext): void {
  setHandler(statusQuery, () => run.status());

  setHandler(markSucceededSignal, (payload) =>
    onStepSignal(run, 'markSucceeded', payload, markSucceededRejection, (record) => {
      const reason = nonEmpty(payload.reason) ?? 'marked by an operator';
      // A step with a task is waiting (approval or decision): its task ends itself.
      if (record.task) record.decision = { kind: 'markSucceeded', reason };
      else record.set('marked-succeeded', now(), { reason, outputs: record.planned.outputs });
    }),
  );

  setHandler(retryStepSignal, (payload) =>
    onStepSignal(run, 'retryStep', payload, retryRejection, (record) => {
      if (record.state === 'failed') record.set('pending', now(), { error: undefined });
      else record.decision = { kind: 'retry' };
    }),
  );

  setHandler(approveSignal, (payload) =>
    onStepSignal(run, 'approve', payload, approveRejection, (record) => {
      record.approved = true;
    }),
  );

  setHandler(rerunFromSignal, (payload) =>
    onStepSignal(
      run,
      'rerunFrom',
      payload,
      (record) => rerunRejection(run, record),
      (record) => {
        const ids = [...downstreamOf((run.plan as Plan).steps, record.id)];
        for (const id of ids) {
          const target = run.record(id);
          target.resetPending = true;
          target.task?.scope.cancel();
        }
        run.resets.push(ids);
      },
    ),
  );

  // Not an operator message: a training child says what its step waits for (the instance lease).
  setHandler(stepNoteSignal, (payload) => {
    const prefix = `${(run.plan as Plan | undefined)?.workflowId ?? ''}/`;
    const childId = typeof payload?.workflowId === 'string' ? payload.workflowId : '';
    if (!run.plan || !childId.startsWith(prefix)) return;
    const step = childId.slice(prefix.length).replace(/\/\d+$/, '');
    const record = run.steps.get(step);
    if (!record || record.state !== 'running') return;
    if (typeof payload.note === 'string' && payload.note) record.status.note = payload.note;
    else delete record.status.note;
  });

  setHandler(abortRunSignal, (payload) => {
    const rejection = run.runRejection();
    run.recordSignal('abortRun', payload, rejection);
    if (!rejection) run.abortReason = nonEmpty(payload?.reason) ?? 'aborted by an operator';
  });
}

function rerunRejection(run: RunContext, record: StepRecord): string | undefined {
  const ids = downstreamOf((run.plan as Plan).steps, record.id);
  if ([...ids].every((id) => run.record(id).state === 'pending' && !run.record(id).task)) {
    return `step ${record.id} and its downstream have not started; there is nothing to rerun`;
  }
  return undefined;
}

function onStepSignal<P extends { step: string }>(
  run: RunContext,
  signal: string,
  payload: P,
  rejection: (record: StepRecord) => string | undefined,
  apply: (record: StepRecord) => void,
): void {
  // Payloads come from the Web UI and the CLI too: check their shape, never trust it.
  const step = nonEmpty(payload?.step);
  const record = step === undefined ? undefined : run.steps.get(step);
  const reason =
    run.runRejection() ??
    (step === undefined
      ? 'the payload names no step ({"step": "<id>"})'
      : !record
        ? `unknown step ${step}`
        : record.resetPending
          ? `step ${step} is being reset by a rerun`
          : rejection(record));
  run.recordSignal(signal, payload, reason);
  if (!reason && record) apply(record);
}

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

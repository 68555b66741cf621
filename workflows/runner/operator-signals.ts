import { setHandler } from '@temporalio/workflow';
import { downstreamOf } from '../../pipelines/core/graph';
import type { Plan } from '../../pipelines/core/types';
import {
  abortRunSignal,
  approveSignal,
  markSucceededSignal,
  rerunFromSignal,
  markItemSucceededSignal,
  retryItemSignal,
  retryStepSignal,
  statusQuery,
  stepNoteSignal,
} from '../definitions';
import { now, type RunContext } from './run-context';
import {
  approveRejection,
  markSucceededRejection,
  retryFailedItems,
  retryRejection,
  type ItemRecord,
  type StepRecord,
} from './step-record';

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
      if (record.state === 'failed') {
        record.set('pending', now(), { error: undefined });
        retryFailedItems(record);
      } else record.decision = { kind: 'retry' };
    }),
  );

  setHandler(retryItemSignal, (payload) =>
    onStepSignal(
      run,
      'retryItem',
      payload,
      (record) => itemRejection(record, payload),
      (record) => {
        const item = record.items?.[payload.item] as ItemRecord;
        item.state = 'pending';
        delete item.error;
        wakeMap(record);
      },
    ),
  );

  setHandler(markItemSucceededSignal, (payload) =>
    onStepSignal(
      run,
      'markItemSucceeded',
      payload,
      (record) => itemRejection(record, payload),
      (record) => {
        const item = record.items?.[payload.item] as ItemRecord;
        item.state = 'marked-succeeded';
        item.reason = nonEmpty(payload.reason) ?? 'marked by an operator';
        delete item.error;
        wakeMap(record);
      },
    ),
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

/** Why an item signal does not fit: only a failed item of a running or failed map step. */
function itemRejection(record: StepRecord, payload: { item?: unknown }): string | undefined {
  if (!record.planned.map) return `step ${record.id} is not a map step`;
  if (!record.items) return `map step ${record.id} has not read its items yet`;
  const index = payload?.item;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= record.items.length)
    return `item ${JSON.stringify(index)} is not an item index of ${record.id} (0–${record.items.length - 1})`;
  const item = record.items[index] as ItemRecord;
  if (item.state !== 'failed')
    return `item ${index} of ${record.id} is ${item.state}; only a failed item fits`;
  if (record.state !== 'running' && record.state !== 'failed' && record.status.awaiting !== 'failure')
    return `step ${record.id} is ${record.state}; items change only while it runs or after it failed`;
  return undefined;
}

/** A running map step looks at its items again; a failed one runs again (only its pending items). */
function wakeMap(record: StepRecord): void {
  record.itemsChanged += 1;
  if (record.state === 'failed') record.set('pending', now(), { error: undefined });
  else if (record.status.awaiting === 'failure') record.decision = { kind: 'items' };
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

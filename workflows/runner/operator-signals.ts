import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import { downstreamOf } from '../../pipelines/core/graph';
import type { Plan } from '../../pipelines/core/types';
import {
  abortRunSignal,
  abortRunUpdate,
  ActionRejectionType,
  approveSignal,
  approveUpdate,
  markSucceededSignal,
  markSucceededUpdate,
  markItemSucceededSignal,
  markItemSucceededUpdate,
  rerunFromSignal,
  rerunFromUpdate,
  retryItemSignal,
  retryItemUpdate,
  retryStepSignal,
  retryStepUpdate,
  statusQuery,
  stepNoteSignal,
  type ActionResult,
  type OperatorUpdatePayload,
} from '../definitions';
import { canonicalJson } from '../../pipelines/core/map';
import { now, type RunContext } from './run-context';
import {
  approveRejection,
  markSucceededRejection,
  retryFailedItems,
  retryRejection,
  type ItemRecord,
  type StepRecord,
} from './step-record';

/** Why an action does not fit now, with the failure type the API maps to a status code. */
interface Rejection {
  type: ActionRejectionType;
  message: string;
}

/** What a step action's payload may hold (signals: whatever the Web UI or CLI sent). */
interface ActionPayload {
  step?: unknown;
  reason?: unknown;
  item?: unknown;
  keepCached?: unknown;
}

/** One operator action: how it is checked against the run, and what it does once accepted. */
interface StepAction {
  name: 'markSucceeded' | 'retryStep' | 'approve' | 'rerunFrom' | 'retryItem' | 'markItemSucceeded';
  rejection: (run: RunContext, record: StepRecord, payload: ActionPayload) => string | Rejection | undefined;
  apply: (run: RunContext, record: StepRecord, payload: ActionPayload) => void;
}

const STEP_ACTIONS: StepAction[] = [
  {
    name: 'markSucceeded',
    rejection: (_run, record) => markSucceededRejection(record),
    apply: (_run, record, payload) => {
      const reason = nonEmpty(payload.reason) ?? 'marked by an operator';
      // A step with a task is waiting (approval or decision): its task ends itself.
      if (record.task) record.decision = { kind: 'markSucceeded', reason };
      else record.set('marked-succeeded', now(), { reason, outputs: record.planned.outputs });
    },
  },
  {
    name: 'retryStep',
    rejection: (_run, record) => retryRejection(record),
    apply: (_run, record) => {
      if (record.state === 'failed') {
        record.set('pending', now(), { error: undefined });
        retryFailedItems(record);
      } else record.decision = { kind: 'retry' };
    },
  },
  {
    name: 'retryItem',
    rejection: (_run, record, payload) => itemRejection(record, payload),
    apply: (_run, record, payload) => {
      const item = record.items?.[itemIndex(record, payload.item) as number] as ItemRecord;
      item.state = 'pending';
      delete item.error;
      wakeMap(record);
    },
  },
  {
    name: 'markItemSucceeded',
    rejection: (_run, record, payload) => itemRejection(record, payload),
    apply: (_run, record, payload) => {
      const item = record.items?.[itemIndex(record, payload.item) as number] as ItemRecord;
      item.state = 'marked-succeeded';
      item.reason = nonEmpty(payload.reason) ?? 'marked by an operator';
      delete item.error;
      wakeMap(record);
    },
  },
  {
    name: 'approve',
    rejection: (_run, record) => approveRejection(record),
    apply: (_run, record) => {
      record.approved = true;
    },
  },
  {
    name: 'rerunFrom',
    rejection: (run, record) => rerunRejection(run, record),
    apply: (run, record, payload) => {
      const ids = [...downstreamOf((run.plan as Plan).steps, record.id)];
      for (const id of ids) {
        const target = run.record(id);
        target.resetPending = true;
        target.task?.scope.cancel();
      }
      run.resets.push({ ids, keepCached: payload.keepCached === true });
    },
  },
];

const SIGNALS = {
  markSucceeded: markSucceededSignal,
  retryStep: retryStepSignal,
  approve: approveSignal,
  rerunFrom: rerunFromSignal,
  retryItem: retryItemSignal,
  markItemSucceeded: markItemSucceededSignal,
} as const;
/** The actions the API takes, also as Updates. */
const updates = {
  markSucceeded: markSucceededUpdate,
  retryStep: retryStepUpdate,
  approve: approveUpdate,
  rerunFrom: rerunFromUpdate,
  retryItem: retryItemUpdate,
  markItemSucceeded: markItemSucceededUpdate,
} as const;

/**
 * The status query and the operator actions, each twice: as a signal (Web UI, `temporal workflow
 * signal`; a misfit is recorded as rejected, with its reason, in `status`) and as an Update (the API,
 * `temporal workflow update execute`): its validator rejects a misfit at once with the reason, so the
 * caller learns the verdict in one round trip, and nothing is written to history. Both check and
 * apply the same rules, synchronously; every accepted action records who acted (the token's name for
 * an Update, `signal` for a signal). Handlers issue no commands, so runs started before updates
 * existed replay unchanged and take both.
 */
export function installOperatorHandlers(run: RunContext): void {
  setHandler(statusQuery, () => run.status());

  for (const action of STEP_ACTIONS) {
    setHandler(SIGNALS[action.name] as typeof markSucceededSignal, (payload: ActionPayload) => {
      // Payloads come from the Web UI and the CLI too: check their shape, never trust it.
      const step = nonEmpty(payload?.step);
      const record = step === undefined ? undefined : run.steps.get(step);
      const rejection =
        step === undefined
          ? (run.runRejection() ?? 'the payload names no step ({"step": "<id>"})')
          : stepRejection(run, action, step, payload)?.message;
      run.recordSignal(action.name, payload, rejection, 'signal');
      if (!rejection && record) action.apply(run, record, payload ?? {});
    });

    setHandler(
      updates[action.name],
      (payload: OperatorUpdatePayload): ActionResult => {
        const step = updateStep(run, action, payload) as string;
        const record = run.record(step);
        const item = action.name.endsWith('Item') ? itemIndex(record, payload.item) : undefined;
        run.recordSignal(action.name, payload, undefined, actorOf(payload));
        action.apply(run, record, payload);
        return {
          action: action.name,
          step,
          ...(typeof item === 'number' ? { item } : {}),
          actor: actorOf(payload),
          state: record.state,
        };
      },
      {
        validator: (payload: OperatorUpdatePayload) => {
          updateStep(run, action, payload);
        },
      },
    );
  }

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
    run.recordSignal('abortRun', payload, rejection, 'signal');
    if (!rejection) run.abortReason = nonEmpty(payload?.reason) ?? 'aborted by an operator';
  });

  setHandler(
    abortRunUpdate,
    (payload: OperatorUpdatePayload): ActionResult => {
      run.recordSignal('abortRun', payload, undefined, actorOf(payload));
      run.abortReason = nonEmpty(payload?.reason) ?? 'aborted by an operator';
      return { action: 'abortRun', actor: actorOf(payload), state: run.state };
    },
    {
      validator: (_payload: OperatorUpdatePayload) => {
        const rejection = run.runRejection();
        if (rejection) throw reject({ type: ActionRejectionType.NotNow, message: rejection });
      },
    },
  );
}

/**
 * The step an Update acts on, or a thrown rejection. Without a step, `approve` takes the one step
 * waiting for approval (and says which when several wait).
 */
function updateStep(run: RunContext, action: StepAction, payload: OperatorUpdatePayload): string {
  let step = nonEmpty(payload?.step);
  if (step === undefined && action.name === 'approve' && !run.runRejection()) {
    const waiting = run.records().filter((record) => record.status.awaiting === 'approval');
    if (waiting.length === 0)
      throw reject({ type: ActionRejectionType.NotNow, message: 'no step is waiting for approval' });
    if (waiting.length > 1) {
      throw reject({
        type: ActionRejectionType.AmbiguousStep,
        message: `step: several steps wait for approval (${waiting.map((r) => r.id).join(', ')}); name one`,
      });
    }
    step = waiting[0]?.id;
  }
  if (step === undefined) {
    throw reject(
      run.runRejection()
        ? { type: ActionRejectionType.NotNow, message: run.runRejection() as string }
        : { type: ActionRejectionType.UnknownStep, message: 'the payload names no step ({"step": "<id>"})' },
    );
  }
  const rejection = stepRejection(run, action, step, payload);
  if (rejection) throw reject(rejection);
  return step;
}

function stepRejection(
  run: RunContext,
  action: StepAction,
  step: string,
  payload: ActionPayload,
): Rejection | undefined {
  const runRejection = run.runRejection();
  if (runRejection) return { type: ActionRejectionType.NotNow, message: runRejection };
  const record = run.steps.get(step);
  if (!record) return { type: ActionRejectionType.UnknownStep, message: `unknown step ${step}` };
  if (record.resetPending)
    return { type: ActionRejectionType.NotNow, message: `step ${step} is being reset by a rerun` };
  const rejection = action.rejection(run, record, payload ?? {});
  return typeof rejection === 'string' ? { type: ActionRejectionType.NotNow, message: rejection } : rejection;
}

/** Why an item action does not fit: only a failed item of a running or failed map step. */
function itemRejection(record: StepRecord, payload: ActionPayload): string | Rejection | undefined {
  if (!record.planned.map)
    return { type: ActionRejectionType.UnknownItem, message: `step ${record.id} is not a map step` };
  if (!record.items) return `map step ${record.id} has not read its items yet`;
  const index = itemIndex(record, payload?.item);
  if (typeof index !== 'number') return index;
  const item = record.items[index] as ItemRecord;
  if (item.state !== 'failed')
    return `item ${index} of ${record.id} is ${item.state}; only a failed item fits`;
  if (record.state !== 'running' && record.state !== 'failed' && record.status.awaiting !== 'failure')
    return `step ${record.id} is ${record.state}; items change only while it runs or after it failed`;
  return undefined;
}

/** Longest item name quoted back in a rejection (names come from outside). */
const ITEM_NAME_SHOWN = 80;

/**
 * The index of the item an action names: an index (a number, or a string of decimal digits), else
 * the item itself (a string item's value, or an item's canonical JSON). A value that several items
 * share is ambiguous: name the item by its index then.
 */
function itemIndex(record: StepRecord, item: unknown): number | Rejection {
  const items = record.items ?? [];
  const shown = JSON.stringify(item)?.slice(0, ITEM_NAME_SHOWN) ?? String(item);
  const unknown = (): Rejection => ({
    type: ActionRejectionType.UnknownItem,
    message: `item ${shown} is not an item of ${record.id} (an index 0–${items.length - 1}, or an item's value)`,
  });
  const index = typeof item === 'string' && /^\d{1,9}$/.test(item) ? Number(item) : item;
  if (typeof index === 'number') {
    return Number.isInteger(index) && index >= 0 && index < items.length ? index : unknown();
  }
  if (typeof item !== 'string' || item.length === 0) return unknown();
  const matches = items.filter(
    (candidate) => candidate.value === item || canonicalJson(candidate.value) === item,
  );
  if (matches.length === 0) return unknown();
  if (matches.length > 1) {
    return {
      type: ActionRejectionType.AmbiguousItem,
      message: `items ${matches.map((m) => m.index).join(', ')} of ${record.id} are all ${shown}; name one by its index`,
    };
  }
  return (matches[0] as ItemRecord).index;
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

const reject = (rejection: Rejection) =>
  ApplicationFailure.create({ type: rejection.type, message: rejection.message, nonRetryable: true });

const actorOf = (payload: OperatorUpdatePayload): string => nonEmpty(payload?.actor) ?? 'unknown';

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

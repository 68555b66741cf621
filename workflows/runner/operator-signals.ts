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
  rerunFromSignal,
  rerunFromUpdate,
  retryStepSignal,
  retryStepUpdate,
  statusQuery,
  type ActionResult,
  type OperatorUpdatePayload,
} from '../definitions';
import { now, type RunContext } from './run-context';
import { approveRejection, markSucceededRejection, retryRejection, type StepRecord } from './step-record';

/** Why an action does not fit now, with the failure type the API maps to a status code. */
interface Rejection {
  type: ActionRejectionType;
  message: string;
}

/** One operator action: how it is checked against the run, and what it does once accepted. */
interface StepAction {
  name: 'markSucceeded' | 'retryStep' | 'approve' | 'rerunFrom';
  rejection: (run: RunContext, record: StepRecord) => string | undefined;
  apply: (run: RunContext, record: StepRecord, payload: { reason?: unknown }) => void;
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
      if (record.state === 'failed') record.set('pending', now(), { error: undefined });
      else record.decision = { kind: 'retry' };
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
    apply: (run, record) => {
      const ids = [...downstreamOf((run.plan as Plan).steps, record.id)];
      for (const id of ids) {
        const target = run.record(id);
        target.resetPending = true;
        target.task?.scope.cancel();
      }
      run.resets.push(ids);
    },
  },
];

const SIGNALS = {
  markSucceeded: markSucceededSignal,
  retryStep: retryStepSignal,
  approve: approveSignal,
  rerunFrom: rerunFromSignal,
} as const;
const UPDATES = {
  markSucceeded: markSucceededUpdate,
  retryStep: retryStepUpdate,
  approve: approveUpdate,
  rerunFrom: rerunFromUpdate,
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
    setHandler(SIGNALS[action.name], (payload: { step?: unknown; reason?: unknown }) => {
      // Payloads come from the Web UI and the CLI too: check their shape, never trust it.
      const step = nonEmpty(payload?.step);
      const record = step === undefined ? undefined : run.steps.get(step);
      const rejection =
        step === undefined
          ? (run.runRejection() ?? 'the payload names no step ({"step": "<id>"})')
          : stepRejection(run, action, step)?.message;
      run.recordSignal(action.name, payload, rejection, 'signal');
      if (!rejection && record) action.apply(run, record, payload ?? {});
    });

    setHandler(
      UPDATES[action.name],
      (payload: OperatorUpdatePayload): ActionResult => {
        const step = updateStep(run, action, payload) as string;
        const record = run.record(step);
        run.recordSignal(action.name, payload, undefined, actorOf(payload));
        action.apply(run, record, payload);
        return { action: action.name, step, actor: actorOf(payload), state: record.state };
      },
      {
        validator: (payload: OperatorUpdatePayload) => {
          updateStep(run, action, payload);
        },
      },
    );
  }

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
  const rejection = stepRejection(run, action, step);
  if (rejection) throw reject(rejection);
  return step;
}

function stepRejection(run: RunContext, action: StepAction, step: string): Rejection | undefined {
  const runRejection = run.runRejection();
  if (runRejection) return { type: ActionRejectionType.NotNow, message: runRejection };
  const record = run.steps.get(step);
  if (!record) return { type: ActionRejectionType.UnknownStep, message: `unknown step ${step}` };
  if (record.resetPending)
    return { type: ActionRejectionType.NotNow, message: `step ${step} is being reset by a rerun` };
  const message = action.rejection(run, record);
  return message ? { type: ActionRejectionType.NotNow, message } : undefined;
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

/**
 * instanceLease: at most one holder of a persistent instance at a time, across runs.
 *
 * One workflow per instance (`instance-lease/<name>`), started by the first request with
 * signal-with-start (activities/lease.ts), so requests never race to create it. Requests queue in
 * arrival order; the lease signals each requester (`leaseUpdate`) when it is granted, and tells
 * waiters which run holds the instance, so a waiting training can show it. The holder releases in its
 * teardown; a holder that dies without releasing frees the instance when its lease expires (its
 * ttl). With nobody holding or waiting, the workflow completes: the next request starts a new one, so
 * an idle lease costs nothing and never outlives the worker's task queue. A request the server
 * buffers while the workflow completes makes the completion fail and is handled by the same run.
 */
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  acquireLeaseSignal,
  leaseStateQuery,
  leaseUpdateSignal,
  releaseLeaseSignal,
  type LeaseRequest,
  type LeaseState,
  type LeaseUpdate,
} from './lease-definitions';

/** Grants kept in the state's history (it travels through continue-as-new, so it stays bounded). */
const HISTORY_KEPT = 20;

export interface InstanceLeaseInput {
  instance: string;
  /** The state carried over by continue-as-new. */
  carried?: LeaseState;
}

export async function instanceLease(input: InstanceLeaseInput): Promise<LeaseState> {
  const state: LeaseState = input.carried ?? { instance: input.instance, waiting: [], history: [] };
  const instance = state.instance;
  let changed = true;
  /** The last update sent to each requester, so a waiter hears of a change once. */
  const told = new Map<string, string>();

  setHandler(leaseStateQuery, () => state);
  setHandler(acquireLeaseSignal, (request) => {
    if (!isRequest(request)) {
      log.warn('lease request ignored: bad payload', { instance, request });
      return;
    }
    if (state.holder?.holder === request.holder) {
      // A renewal: the holder pushes its expiry out.
      state.holder.expiresAt = new Date(Date.now() + request.ttlMs).toISOString();
      told.delete(request.holder);
    } else {
      const queued = state.waiting.find((w) => w.holder === request.holder);
      if (queued) Object.assign(queued, request);
      else state.waiting.push({ holder: request.holder, run: request.run, ttlMs: request.ttlMs });
    }
    changed = true;
  });
  setHandler(releaseLeaseSignal, (release) => {
    const holder = typeof release?.holder === 'string' ? release.holder : undefined;
    if (holder === undefined) return;
    if (state.holder?.holder === holder) end('released');
    else state.waiting = state.waiting.filter((w) => w.holder !== holder);
    told.delete(holder);
    changed = true;
  });

  function end(how: 'released' | 'expired'): void {
    const holder = state.holder;
    if (!holder) return;
    const entry = [...state.history].reverse().find((h) => h.holder === holder.holder && !h.ended);
    if (entry) Object.assign(entry, { ended: how, endedAt: new Date().toISOString() });
    if (how === 'expired') log.warn('lease expired without a release', { instance, holder: holder.holder });
    state.holder = undefined;
  }

  /** Sends an update unless this requester already has it; false when its workflow is gone. */
  async function tell(holder: string, update: LeaseUpdate): Promise<boolean> {
    const text = JSON.stringify(update);
    if (told.get(holder) === text) return true;
    try {
      await getExternalWorkflowHandle(holder).signal(leaseUpdateSignal, update);
      told.set(holder, text);
      return true;
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('lease requester is gone', { instance, holder, error: String(error) });
      return false;
    }
  }

  for (;;) {
    changed = false;
    if (state.holder && Date.parse(state.holder.expiresAt) <= Date.now()) end('expired');
    if (!state.holder) {
      const next = state.waiting.shift();
      if (next) {
        const now = new Date();
        state.holder = {
          ...next,
          grantedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + next.ttlMs).toISOString(),
        };
        state.history.push({ holder: next.holder, run: next.run, grantedAt: state.holder.grantedAt });
        if (state.history.length > HISTORY_KEPT) state.history.splice(0, state.history.length - HISTORY_KEPT);
      }
    }
    const holder = state.holder;
    if (holder && !(await tell(holder.holder, { instance, granted: true }))) {
      // Granted to a workflow that no longer exists: nobody will release it.
      end('released');
      changed = true;
      continue;
    }
    for (const [index, waiter] of [...state.waiting].entries()) {
      const update: LeaseUpdate = { instance, granted: false, heldBy: holder?.run, position: index + 1 };
      if (!(await tell(waiter.holder, update))) {
        state.waiting = state.waiting.filter((w) => w.holder !== waiter.holder);
        changed = true;
      }
    }
    if (changed) continue;
    if (!state.holder && state.waiting.length === 0) return state;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof instanceLease>({ instance, carried: state });
    }
    const left = state.holder ? Math.max(1, Date.parse(state.holder.expiresAt) - Date.now()) : undefined;
    if (left === undefined) await condition(() => changed);
    else await condition(() => changed, left);
  }
}

function isRequest(value: unknown): value is LeaseRequest {
  const request = value as LeaseRequest | undefined;
  return (
    typeof request?.holder === 'string' &&
    request.holder.length > 0 &&
    typeof request.run === 'string' &&
    typeof request.ttlMs === 'number' &&
    Number.isFinite(request.ttlMs) &&
    request.ttlMs > 0
  );
}

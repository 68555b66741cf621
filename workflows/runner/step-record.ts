import type { CancellationScope } from '@temporalio/workflow';
import { estimateCost, type VmUsage } from '../cost';
import type { PlannedStep } from '../../pipelines/core/types';
import type { JsonValue } from '../../pipelines/core/types';
import type { ItemState, PartialRun, StepState, StepStatus } from '../definitions';

/** One item of a map step inside the run. */
export interface ItemRecord {
  index: number;
  value: JsonValue;
  state: ItemState;
  attempts: number;
  outputs: Record<string, string>;
  error?: string;
  reason?: string;
}

/** `items`: an item signal on a map step awaiting a decision (run its pending items, keep the failed). */
export type Decision = { kind: 'markSucceeded'; reason: string } | { kind: 'retry' } | { kind: 'items' };

/** A step's live state inside one run: what `status` shows plus what the runner needs to drive it. */
export class StepRecord {
  readonly status: StepStatus;
  /** Bumped on every launch; a settling task of an older generation is ignored. */
  generation = 0;
  approved = false;
  decision: Decision | undefined;
  task: { scope: CancellationScope; promise: Promise<void> } | undefined;
  /** A rerun of this step is waiting for running steps to be cancelled. */
  resetPending = false;
  /** Set by rerunFrom: run the step again even if its outputs exist or could be reused. */
  forceRun = false;
  /** A map step's items, once its list is known (kept across retries of the step, cleared by reset). */
  items: ItemRecord[] | undefined;
  /** Item attempts before the last reset (by index), so a rerun's items have new attempt numbers. */
  readonly itemAttempts = new Map<number, number>();
  /** A map step's items per batch, once known. */
  batchSize = 0;
  /** Bumped by item signals, so a running map step looks at its items again. */
  itemsChanged = 0;
  /** An eachBatch step's partial runs. */
  readonly partials: PartialRun[] = [];
  /** VMs of every training this step ran in this run (kept across retries and reruns: money spent). */
  readonly vms: VmUsage[] = [];

  constructor(readonly planned: PlannedStep) {
    this.status = {
      id: planned.id,
      after: planned.after,
      kind: planned.kind,
      state: 'pending',
      attempts: 0,
      outputs: {},
      cacheKey: planned.cacheKey,
    };
  }

  get id(): string {
    return this.planned.id;
  }

  get state(): StepState {
    return this.status.state;
  }

  /** Moves to a new state; `at` (workflow time) stamps the start or end it implies. */
  set(state: StepState, at: string, fields: Partial<StepStatus> = {}): void {
    if (state === 'running' && this.status.state !== 'awaiting-decision') this.status.startedAt = at;
    if (ENDED.includes(state)) this.status.endedAt = at;
    // Back to pending (retry, un-skipped): the times of what came before no longer describe it.
    if (state === 'pending') {
      delete this.status.startedAt;
      delete this.status.endedAt;
    }
    if (state !== 'awaiting-decision') delete this.status.awaiting;
    if (state !== 'running') delete this.status.note;
    Object.assign(this.status, { state }, fields);
  }

  /** Adds the VMs of a finished training; the step's cost covers all of its trainings. */
  addVmUsage(vms: VmUsage[]): void {
    this.vms.push(...vms);
    this.status.cost = estimateCost(this.vms, Date.now());
  }

  /** Back to pending, forgetting what the last attempt produced; `force` skips cache and reuse (rerunFrom). */
  reset(force: boolean): void {
    for (const field of ['startedAt', 'endedAt', 'error', 'reason', 'info', 'awaiting', 'note'] as const) {
      delete this.status[field];
    }
    this.status.state = 'pending';
    this.status.outputs = {};
    this.approved = false;
    this.decision = undefined;
    this.resetPending = false;
    this.forceRun = force;
    for (const item of this.items ?? []) this.itemAttempts.set(item.index, item.attempts);
    this.items = undefined;
    this.partials.length = 0;
    delete this.status.map;
    delete this.status.partials;
  }
}

const ENDED: readonly StepState[] = [
  'succeeded',
  'failed',
  'marked-succeeded',
  'skipped',
  'reused',
  'cached',
];

/** Why `markSucceeded` does not fit the step, or undefined when it does (Airflow's "mark success"). */
export function markSucceededRejection(record: StepRecord): string | undefined {
  if (['failed', 'awaiting-decision', 'pending', 'skipped'].includes(record.state)) return undefined;
  return `step ${record.id} is ${describe(record)}; only a pending, skipped, failed or waiting step can be marked succeeded`;
}

export function retryRejection(record: StepRecord): string | undefined {
  if (record.state === 'failed') return undefined;
  if (record.state === 'awaiting-decision' && record.status.awaiting === 'failure') return undefined;
  return `step ${record.id} is ${describe(record)}; only a failed step or one awaiting a decision after a failure can be retried`;
}

export function approveRejection(record: StepRecord): string | undefined {
  if (!record.planned.approval) return `step ${record.id} needs no approval`;
  if (record.approved) return `step ${record.id} is already approved`;
  if (record.state === 'pending' || record.state === 'running' || record.status.awaiting === 'approval') {
    return undefined;
  }
  return `step ${record.id} is ${describe(record)}; there is nothing left to approve`;
}

function describe(record: StepRecord): string {
  return record.status.awaiting ? `${record.state} (${record.status.awaiting})` : record.state;
}

/** A map step's failed items go back to pending (a retry of the whole step retries them). */
export function retryFailedItems(record: StepRecord): void {
  for (const item of record.items ?? []) {
    if (item.state !== 'failed') continue;
    item.state = 'pending';
    delete item.error;
  }
}

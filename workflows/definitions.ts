/**
 * The runPipeline workflow's public surface: input and result types, signals, the status query,
 * memo and search attributes. No workflow logic, so the API and scripts can import it.
 *
 * Signals take one plain JSON object, so they work the same from code, from the Web UI and from
 * `temporal workflow signal --name markSucceeded --input '{"step":"quality.train","reason":"ok"}'`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import { CURRENT_STEP, PIPELINE, RUN_STATE } from '../config/search-attributes';
import type { JsonPrimitive, Plan } from '../pipelines/core/types';
import type { CostEstimate } from './cost';

export type StepState =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'awaiting-decision'
  | 'marked-succeeded'
  | 'skipped'
  | 'reused'
  | 'cached';

/** States after which a step's downstream may run. */
export const DONE_STATES: readonly StepState[] = ['succeeded', 'marked-succeeded', 'reused', 'cached'];

export type RunState = 'planning' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'aborted';

/** Failure types of the runner; tests and the API match on these, never on messages. */
export enum RunnerErrorType {
  StepsFailed = 'StepsFailed',
  RunAborted = 'RunAborted',
  UnknownPipeline = 'UnknownPipeline',
  InvalidPipeline = 'InvalidPipeline',
  InvalidParameters = 'InvalidParameters',
  InvalidReuse = 'InvalidReuse',
  RepoRefNotFound = 'RepoRefNotFound',
  UnknownStepKind = 'UnknownStepKind',
  /** A resolved step spec does not fit its kind's schema; the message names the step and field. */
  InvalidStepSpec = 'InvalidStepSpec',
  /** A file a step reads (SQL) is not in its repository at the pinned commit. */
  CodeFileNotFound = 'CodeFileNotFound',
  /** A step's program cannot be keyed: a symbolic link or special file in it, or too large a folder. */
  InvalidProgram = 'InvalidProgram',
  /** A map step's item list could not be read (not an array, too many items). */
  InvalidMapItems = 'InvalidMapItems',
  /** Fewer map items succeeded than the step's minSuccessRatio asks. */
  MapItemsFailed = 'MapItemsFailed',
}

export interface RunPipelineInput {
  pipeline: string;
  params?: Record<string, JsonPrimitive>;
  /** `YYYY-MM-DD`; wins over a schedule's nominal time and the start date. */
  cutoff?: string;
  /** Take the outputs of the steps outside `from`'s downstream from this earlier run. */
  reuseRunId?: string;
  from?: string;
  /** Outputs of the earlier run, when the caller has them already (step id → output name → value). */
  reuseOutputs?: Record<string, Record<string, string>>;
  /** Who started the run: the API token's name, or `schedule:<id>` (kept in history as the input). */
  startedBy?: string;
  /** At most this many steps of the run execute at once (1–1000, default DEFAULT_MAX_PARALLEL). */
  maxParallel?: number;
}

/**
 * Bounded scheduling. Temporal allows 2,000 pending activities (and child workflows) per workflow; a
 * run never has more than `maxParallel` steps executing, whatever the DAG's width.
 */
export const DEFAULT_MAX_PARALLEL = 200;
export const MAX_PARALLEL_LIMIT = 1000;

export interface StepStatus {
  id: string;
  after: string[];
  kind: string;
  state: StepState;
  /** Why the step waits, when `awaiting-decision`. */
  awaiting?: 'approval' | 'failure';
  /** Times the step's work was started by this run (`retryStep`/`rerunFrom` add one). */
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  outputs: Record<string, string>;
  cacheKey: string;
  error?: string;
  /** The operator's reason, for a marked-succeeded step. */
  reason?: string;
  /** Kind-specific details returned by the step's handler (row counts, metrics). */
  info?: Record<string, unknown>;
  /** What a running step waits for, e.g. "waiting for quality-notebook, held by run visits-scaling/2026q3". */
  note?: string;
  /** VM hours and estimated cost of the step's trainings that have ended (train steps). */
  cost?: CostEstimate;
  /** A map step's progress (docs/map-steps.md). */
  map?: MapProgress;
  /** An eachBatch step's runs on finished batches of its map upstream. */
  partials?: PartialRun[];
}

export type ItemState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cached' | 'marked-succeeded';

export interface FailedItem {
  index: number;
  /** The item as short JSON. */
  item: string;
  error: string;
  attempts: number;
}

export interface MapProgress {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cached: number;
  markedSucceeded: number;
  batches: { size: number; total: number; finished: number };
  minSuccessRatio: number;
  /** The first 50 failed items, with their errors. */
  failedItems: FailedItem[];
}

export interface PartialRun {
  batch: number;
  /** Items finished (succeeded, cached or marked) when the partial run started. */
  items: number;
  state: 'running' | 'succeeded' | 'failed';
  outputs: Record<string, string>;
  error?: string;
}

export interface SignalRecord {
  signal: string;
  payload: unknown;
  at: string;
  accepted: boolean;
  reason?: string;
  /** Who acted: the API token's name (by Update), or `signal` (Web UI, CLI). */
  actor?: string;
}

export interface RunStatus {
  pipeline: string;
  workflowId: string;
  state: RunState;
  /** Who started the run (the API token's name, `schedule:<id>`), when known. */
  startedBy?: string;
  params: Record<string, JsonPrimitive>;
  cutoff?: string;
  plan?: Plan;
  steps: StepStatus[];
  /** Signals that did not fit (unknown step, wrong state), with the reason. */
  rejectedSignals: SignalRecord[];
  /** Accepted operator actions, for the audit trail. */
  operatorActions: SignalRecord[];
  abortReason?: string;
  /** VM hours and estimated cost of every training of the run that has ended. */
  cost?: RunCost;
}

/** A run's VM hours and estimated cost, in total and by step (steps without VMs are left out). */
export interface RunCost {
  currency: 'USD';
  vmHours: number;
  usd: number;
  steps: Record<string, { vmHours: number; usd: number }>;
  /** Machine types or accelerators the price table does not know: the estimate is low by them. */
  unpriced?: string[];
}

/** What a finished run returns and keeps in its memo, so a later run can reuse its outputs. */
export interface RunSummary {
  pipeline: string;
  workflowId: string;
  state: RunState;
  cutoff: string;
  params: Record<string, JsonPrimitive>;
  steps: Record<
    string,
    { state: StepState; cacheKey: string; outputs: Record<string, string>; map?: MapProgress }
  >;
  /** Absent in summaries of runs recorded before cost tracking. */
  cost?: RunCost;
}

export type RunPipelineResult = RunSummary;

/** Memo key holding the RunSummary of a run. */
export const RUN_SUMMARY_MEMO = 'runSummary';

export interface StepPayload {
  step: string;
  /** Why, kept with the signal in the audit trail (e.g. what arrived, for a data-arrival rerun). */
  reason?: string;
  /**
   * rerunFrom only: the steps (and map items) whose outputs exist under their keys stay `cached`
   * instead of being recomputed. A data arrival sends it: the listing reruns, unchanged items are
   * cached. Default (an operator's rerun): everything from the step on runs again.
   */
  keepCached?: boolean;
}
export interface MarkSucceededPayload extends StepPayload {
  reason: string;
}
export interface ItemPayload extends StepPayload {
  /**
   * Which item: its index in the map step's list (status.map.failedItems[].index, a number or a
   * string of digits), or else the item itself: a string item's value, or any item's canonical JSON.
   */
  item: number | string;
}
export interface MarkItemSucceededPayload extends ItemPayload {
  reason: string;
}
export interface AbortPayload {
  reason: string;
}

export const markSucceededSignal = defineSignal<[MarkSucceededPayload]>('markSucceeded');
export const retryStepSignal = defineSignal<[StepPayload]>('retryStep');
export const rerunFromSignal = defineSignal<[StepPayload]>('rerunFrom');
export const approveSignal = defineSignal<[StepPayload]>('approve');
export const retryItemSignal = defineSignal<[ItemPayload]>('retryItem');
export const markItemSucceededSignal = defineSignal<[MarkItemSucceededPayload]>('markItemSucceeded');
export const abortRunSignal = defineSignal<[AbortPayload]>('abortRun');
export const statusQuery = defineQuery<RunStatus>('status');

/** From a step's child workflow (a training) to its run: what the step waits for; null when it no longer waits. */
export interface StepNotePayload {
  /** The child's workflow id, `<run>/<step>/<attempt>`. */
  workflowId: string;
  note: string | null;
}
export const stepNoteSignal = defineSignal<[StepNotePayload]>('stepNote');

/** What an operator Update carries: the signal's payload plus who acts (the API token's name). */
export interface OperatorUpdatePayload {
  step?: string;
  reason?: string;
  /** Item actions (retryItem, markItemSucceeded): which item, as in ItemPayload. */
  item?: number | string;
  actor?: string;
}

/** What an accepted operator Update returns. */
export interface ActionResult {
  action: string;
  step?: string;
  /** Item actions: the item's index. */
  item?: number;
  actor: string;
  /** The step's state (or the run's, for abortRun) right after the action. */
  state: string;
}

/** Failure types of a rejected operator Update; the API answers 404, 400 and 409 for them. */
export enum ActionRejectionType {
  UnknownStep = 'UnknownStep',
  AmbiguousStep = 'AmbiguousStep',
  /** No such item in the map step (or the step is not a map step). */
  UnknownItem = 'UnknownItem',
  /** Several items have the value named; name the item by its index. */
  AmbiguousItem = 'AmbiguousItem',
  NotNow = 'ActionRejected',
}

// The same actions as Workflow Updates, under the signals' names: a validator accepts or rejects each
// at once, with the reason (`temporal workflow update execute --name approve --input '{"step":"promote"}'`).
export const markSucceededUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('markSucceeded');
export const retryStepUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('retryStep');
export const rerunFromUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('rerunFrom');
export const approveUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('approve');
export const abortRunUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('abortRun');
export const retryItemUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>('retryItem');
export const markItemSucceededUpdate = defineUpdate<ActionResult, [OperatorUpdatePayload]>(
  'markItemSucceeded',
);

/** Workflow id of a run: `<pipeline>/<runKey>`, so the same run cannot be started twice. */
export const runWorkflowId = (pipeline: string, runKey: string): string => `${pipeline}/${runKey}`;

/** The custom search attributes of a run, as upserted by the workflow. */
export function runSearchAttributes(
  pipeline: string,
  state: RunState,
  currentSteps: string[],
  bounded = true,
): SearchAttributePair[] {
  return [
    { key: PIPELINE, value: pipeline },
    { key: RUN_STATE, value: state },
    // Unbounded: runs started before the bounded scheduler replay their original upserts.
    { key: CURRENT_STEP, value: bounded ? currentStepValue(currentSteps) : currentSteps.join(',') },
  ];
}

/** How many running step ids `CurrentStep` names before it counts the rest. */
export const CURRENT_STEP_IDS = 5;
/** Well under the server's 2 KB limit per search attribute value, whatever the ids' lengths. */
export const CURRENT_STEP_MAX_CHARS = 400;

/**
 * The `CurrentStep` value: up to five running step ids, then `+N more`; never longer than 400
 * characters (a long id is cut with `…`), so a wide DAG cannot make the server reject the upsert.
 */
export function currentStepValue(ids: string[]): string {
  const shown = ids.slice(0, CURRENT_STEP_IDS);
  const rest = ids.length - shown.length;
  const more = rest > 0 ? `,+${rest} more` : '';
  const joined = shown.join(',');
  const room = CURRENT_STEP_MAX_CHARS - more.length;
  return `${joined.length > room ? `${joined.slice(0, room - 1)}…` : joined}${more}`;
}

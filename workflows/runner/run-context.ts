import { log, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Plan } from '../../pipelines/core/types';
import {
  RUN_SUMMARY_MEMO,
  type RunCost,
  runSearchAttributes,
  type RunPipelineInput,
  type RunState,
  type RunStatus,
  type RunSummary,
  type SignalRecord,
} from '../definitions';
import { mapProgress } from './map-step';
import type { StepRecord } from './step-record';

/**
 * The state of one run that the scheduler and the operator handlers share: the plan, each step's
 * record, operator messages, and what the run shows outside (status query, search attributes, memo).
 */
export class RunContext {
  plan: Plan | undefined;
  readonly steps = new Map<string, StepRecord>();
  state: RunState = 'planning';
  /** Set by anything that may let the scheduler make progress; it waits on this with condition(). */
  changed = false;
  abortReason: string | undefined;
  /** patched('bounded-scheduler'): at most maxParallel steps at once, a CurrentStep that always fits. */
  bounded = false;
  /** Step sets of accepted rerunFrom signals, applied once their running steps have stopped. */
  /** rerunFrom sets to reset once their running steps have stopped; `keepCached`: without forcing. */
  readonly resets: { ids: string[]; keepCached: boolean }[] = [];
  private readonly signals: SignalRecord[] = [];
  private lastSearchAttributes = '';

  constructor(readonly input: RunPipelineInput) {}

  records(): StepRecord[] {
    return [...this.steps.values()];
  }

  record(id: string): StepRecord {
    return this.steps.get(id) as StepRecord;
  }

  /** Why no operator message fits the run as a whole right now, or undefined. */
  runRejection(): string | undefined {
    if (!this.plan) return 'the run has no plan yet';
    if (this.abortReason !== undefined) return `the run is being aborted (${this.abortReason})`;
    if (this.state !== 'running') return `the run has ended (${this.state})`;
    return undefined;
  }

  recordSignal(signal: string, payload: unknown, reason: string | undefined, actor = 'signal'): void {
    this.signals.push({
      signal,
      payload,
      at: now(),
      accepted: !reason,
      ...(reason ? { reason } : {}),
      actor,
    });
    if (reason) log.warn('signal rejected', { signal, reason });
    this.changed = true;
  }

  /** Ends the run's outside view: final search attributes and the summary in the memo (for reuse). */
  finish(state: RunState): void {
    this.state = state;
    this.refreshSearchAttributes();
    if (this.plan?.searchAttributes) upsertMemo({ [RUN_SUMMARY_MEMO]: this.summary() });
  }

  /** Upserts only on change, so history grows with state changes, never with time. */
  refreshSearchAttributes(): void {
    if (!this.plan?.searchAttributes) return;
    const busy = this.records().filter(
      (record) => record.state === 'running' || record.state === 'awaiting-decision',
    );
    const state: RunState =
      this.state === 'running' && busy.some((record) => record.state === 'awaiting-decision')
        ? 'waiting'
        : this.state;
    const pairs = runSearchAttributes(
      this.plan.pipeline,
      state,
      busy.map((record) => record.id),
      this.bounded,
    );
    const key = JSON.stringify(pairs.map((pair) => pair.value));
    if (key === this.lastSearchAttributes) return;
    this.lastSearchAttributes = key;
    upsertSearchAttributes(pairs);
  }

  status(): RunStatus {
    return {
      pipeline: this.plan?.pipeline ?? this.input.pipeline,
      workflowId: workflowInfo().workflowId,
      state: this.state,
      ...(this.input.startedBy ? { startedBy: this.input.startedBy } : {}),
      params: this.plan?.params ?? this.input.params ?? {},
      ...(this.plan ? { cutoff: this.plan.cutoff, plan: this.plan } : {}),
      steps: this.records().map((record) => ({
        ...record.status,
        ...(record.items ? { map: mapProgress(record) } : {}),
        ...(record.partials.length > 0 ? { partials: record.partials.map((p) => ({ ...p })) } : {}),
      })),
      rejectedSignals: this.signals.filter((signal) => !signal.accepted),
      operatorActions: this.signals.filter((signal) => signal.accepted),
      ...(this.abortReason !== undefined ? { abortReason: this.abortReason } : {}),
      cost: this.cost(),
    };
  }

  /** The run's cost from its steps' ended trainings. */
  cost(): RunCost {
    const steps: RunCost['steps'] = {};
    let vmHours = 0;
    let usd = 0;
    const unpriced = new Set<string>();
    for (const record of this.records()) {
      const cost = record.status.cost;
      if (!cost) continue;
      steps[record.id] = { vmHours: cost.vmHours, usd: cost.usd };
      vmHours += cost.vmHours;
      usd += cost.usd;
      for (const part of cost.unpriced ?? []) unpriced.add(part);
    }
    return {
      currency: 'USD',
      vmHours: Math.round(vmHours * 1e6) / 1e6,
      usd: Math.round(usd * 1e6) / 1e6,
      steps,
      ...(unpriced.size ? { unpriced: [...unpriced] } : {}),
    };
  }

  summary(): RunSummary {
    const plan = this.plan as Plan;
    return {
      pipeline: plan.pipeline,
      workflowId: plan.workflowId,
      state: this.state,
      cutoff: plan.cutoff,
      params: plan.params,
      steps: Object.fromEntries(
        this.records().map((r) => [
          r.id,
          {
            state: r.state,
            cacheKey: r.planned.cacheKey,
            outputs: r.status.outputs,
            ...(r.items ? { map: mapProgress(r) } : {}),
          },
        ]),
      ),
      cost: this.cost(),
    };
  }
}

/** Workflow time (deterministic), as an ISO string. */
export const now = (): string => new Date().toISOString();

export const errorMessage = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  // ActivityFailure says only "Activity task failed"; its cause says why.
  return cause instanceof Error ? cause.message : error.message;
};

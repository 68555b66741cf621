/**
 * runPipeline: one run of a pipeline definition (DESIGN.md §4).
 *
 * VERSIONING RULE. Runs last days and workers are redeployed under them, so every change to this file
 * (and to workflows/runner/*) that alters the sequence of commands an in-flight run issues (which
 * activities, timers, child workflows, signals or search-attribute upserts, in which order) must be
 * guarded: `if (patched('short-change-id')) { new } else { old }`, later `deprecatePatch()` once no
 * run started before the change is open. Replay tests over test/histories/*.json fail when this is
 * forgotten. Pure refactors, status fields and query changes need no patch.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { NotifyActivities, Notification } from '../activities/notify';
import type { PlanActivities } from '../activities/plan';
import type { StepExecution } from '../activities/steps';
import { downstreamOf } from '../pipelines/graph';
import type { Plan } from '../pipelines/types';
import {
  abortRunSignal,
  approveSignal,
  DONE_STATES,
  markSucceededSignal,
  rerunFromSignal,
  retryStepSignal,
  RUN_SUMMARY_MEMO,
  RunnerErrorType,
  runSearchAttributes,
  statusQuery,
  type RunPipelineInput,
  type RunPipelineResult,
  type RunState,
  type RunStatus,
  type RunSummary,
  type SignalRecord,
} from './definitions';
import { checkOutputs, dispatchStep } from './runner/dispatch';
import { approveRejection, markSucceededRejection, retryRejection, StepRecord } from './runner/step-record';

const { planRun } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: Object.values(RunnerErrorType) },
});
const { notify } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

const SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

type Outcome = Pick<StepRecord['status'], 'state' | 'outputs' | 'info' | 'reason'>;

/** Runs a pipeline: plan (an activity), then every ready step concurrently until nothing can run. */
export async function runPipeline(input: RunPipelineInput): Promise<RunPipelineResult> {
  return await new PipelineRun(input).execute();
}

class PipelineRun {
  private plan: Plan | undefined;
  private readonly steps = new Map<string, StepRecord>();
  private state: RunState = 'planning';
  private changed = false;
  private abortReason: string | undefined;
  private readonly resets: string[][] = [];
  private readonly signals: SignalRecord[] = [];
  private lastSearchAttributes = '';

  constructor(private readonly input: RunPipelineInput) {}

  async execute(): Promise<RunPipelineResult> {
    this.installHandlers();
    const info = workflowInfo();
    const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
    this.plan = await planRun({
      ...this.input,
      workflowId: info.workflowId,
      startTime: info.startTime.toISOString(),
      ...(scheduled ? { scheduledStartTime: scheduled.toISOString() } : {}),
    });
    for (const planned of this.plan.steps) this.steps.set(planned.id, new StepRecord(planned));
    this.state = 'running';
    try {
      await this.loop();
    } catch (error) {
      if (!isCancellation(error)) throw error;
      await CancellationScope.nonCancellable(() => this.abort('the workflow was cancelled'));
      throw error;
    }
    if (this.abortReason !== undefined) {
      await CancellationScope.nonCancellable(() => this.abort(this.abortReason as string));
      throw ApplicationFailure.create({
        type: RunnerErrorType.RunAborted,
        message: `run aborted: ${this.abortReason}`,
        nonRetryable: true,
        details: [this.summary()],
      });
    }
    const failed = this.records().filter((record) => record.state === 'failed');
    this.finish(failed.length > 0 ? 'failed' : 'succeeded');
    if (failed.length > 0) {
      const names = failed.map((record) => `${record.id} (${record.status.error ?? 'failed'})`);
      await this.notifySafely(
        'failed',
        failed.map((record) => record.id),
        `steps failed: ${names.join('; ')}`,
      );
      throw ApplicationFailure.create({
        type: RunnerErrorType.StepsFailed,
        message: `steps failed: ${failed.map((record) => record.id).join(', ')}`,
        nonRetryable: true,
        details: [this.summary()],
      });
    }
    await this.notifySafely('succeeded', [], 'all steps done');
    return this.summary();
  }

  /** Launches ready steps and waits for changes until no step runs or waits and no rerun is pending. */
  private async loop(): Promise<void> {
    for (;;) {
      if (this.abortReason !== undefined) return;
      await this.applyResets();
      this.propagateSkips();
      for (const record of this.records()) if (this.isReady(record)) this.launch(record);
      this.refreshSearchAttributes();
      if (!this.records().some((record) => record.task) && this.resets.length === 0) return;
      this.changed = false;
      await condition(() => this.changed);
    }
  }

  private isReady(record: StepRecord): boolean {
    return (
      record.state === 'pending' &&
      !record.task &&
      !record.resetPending &&
      record.planned.after.every((id) => DONE_STATES.includes(this.record(id).state))
    );
  }

  /** Pending steps behind a failed or skipped one are skipped; they come back when it is retried. */
  private propagateSkips(): void {
    for (const record of this.records()) {
      if (record.task || (record.state !== 'pending' && record.state !== 'skipped')) continue;
      const blocked = record.planned.after.find((id) =>
        ['failed', 'skipped'].includes(this.record(id).state),
      );
      if (blocked && record.state === 'pending')
        record.set('skipped', now(), { error: `upstream ${blocked} did not succeed` });
      if (!blocked && record.state === 'skipped') record.set('pending', now(), { error: undefined });
    }
  }

  private launch(record: StepRecord): void {
    const generation = ++record.generation;
    record.set('running', now(), { error: undefined });
    const scope = new CancellationScope();
    const promise = scope
      .run(() => this.runStep(record))
      .then(
        (outcome) => this.settle(record, generation, outcome),
        (error: unknown) => this.settle(record, generation, undefined, error),
      );
    record.task = { scope, promise };
  }

  private settle(record: StepRecord, generation: number, outcome?: Outcome, error?: unknown): void {
    if (generation !== record.generation) return;
    record.task = undefined;
    this.changed = true;
    if (outcome) {
      record.set(outcome.state, now(), outcome);
    } else if (isCancellation(error)) {
      record.set('failed', now(), { error: 'cancelled' });
    } else {
      record.set('failed', now(), { error: errorMessage(error) });
      log.warn('step failed', { step: record.id, error: record.status.error });
    }
  }

  /** One step from start to settled: reuse or cache check, approval, attempts, decisions after failure. */
  private async runStep(record: StepRecord): Promise<Outcome> {
    const planned = record.planned;
    const execution = this.execution(record);
    if (planned.reuse && !record.forceRun) {
      const reused = { ...execution, outputs: planned.reuse.outputs };
      // An expired output is recreated under the same name, which the downstream specs reference.
      if ((await checkOutputs(planned, reused)) !== false)
        return { state: 'reused', outputs: planned.reuse.outputs };
      execution.outputs = planned.reuse.outputs;
    } else if (planned.cache && !record.forceRun && (await checkOutputs(planned, execution)) === true) {
      return { state: 'cached', outputs: execution.outputs };
    }
    if (planned.approval && !record.approved) {
      this.await(record, 'approval');
      await this.notifySafely('awaiting-decision', [record.id], `step ${record.id} waits for approval`);
      await condition(() => record.approved || record.decision !== undefined);
      if (record.decision?.kind === 'markSucceeded') {
        return { state: 'marked-succeeded', outputs: execution.outputs, reason: record.decision.reason };
      }
      record.set('running', now());
      this.changed = true;
    }
    for (;;) {
      record.status.attempts += 1;
      try {
        const result = await dispatchStep(planned, { ...execution, attempt: record.status.attempts });
        return { state: 'succeeded', outputs: result.outputs ?? execution.outputs, info: result.info };
      } catch (error) {
        if (isCancellation(error) || planned.onFailure !== 'wait') throw error;
        this.await(record, 'failure', errorMessage(error));
        await this.notifySafely(
          'awaiting-decision',
          [record.id],
          `step ${record.id} failed: ${record.status.error}`,
        );
        await condition(() => record.decision !== undefined);
        const decision = record.decision;
        record.decision = undefined;
        if (decision?.kind === 'markSucceeded') {
          return { state: 'marked-succeeded', outputs: execution.outputs, reason: decision.reason };
        }
        record.set('running', now(), { error: undefined });
        this.changed = true;
      }
    }
  }

  private await(record: StepRecord, awaiting: 'approval' | 'failure', error?: string): void {
    record.set('awaiting-decision', now(), { awaiting, ...(error ? { error } : {}) });
    this.changed = true;
  }

  private execution(record: StepRecord): StepExecution {
    const plan = this.plan as Plan;
    const planned = record.planned;
    return {
      workflowId: plan.workflowId,
      pipeline: plan.pipeline,
      cutoff: plan.cutoff,
      params: plan.params,
      step: {
        id: planned.id,
        kind: planned.kind,
        spec: planned.spec,
        version: planned.version,
        cacheKey: planned.cacheKey,
        ...(planned.commit ? { commit: planned.commit } : {}),
        ...(planned.repo ? { repo: planned.repo } : {}),
      },
      outputs: planned.outputs,
      inputs: Object.fromEntries(planned.after.map((id) => [id, this.record(id).status.outputs])),
      attempt: record.status.attempts,
    };
  }

  /** rerunFrom: waits until the cancelled steps have stopped, then resets the whole set. */
  private async applyResets(): Promise<void> {
    while (this.resets.length > 0) {
      const ids = this.resets.shift() as string[];
      await Promise.all(ids.map((id) => this.record(id).task?.promise));
      for (const id of ids) {
        const record = this.record(id);
        record.generation += 1;
        record.task = undefined;
        record.reset(true);
      }
    }
  }

  /** Cancels what runs, then runs cleanup steps and notifies; the caller holds a non-cancellable scope. */
  private async abort(reason: string): Promise<void> {
    this.abortReason = reason;
    const running = this.records().filter((record) => record.task);
    running.forEach((record) => record.task?.scope.cancel());
    await Promise.all(running.map((record) => record.task?.promise));
    for (const record of this.records()) {
      if (record.state === 'failed' && record.status.error === 'cancelled')
        record.status.error = `cancelled: ${reason}`;
      if (record.state === 'pending') record.set('skipped', now(), { error: `run aborted: ${reason}` });
    }
    for (const record of this.records().filter((r) => r.planned.cleanup && !DONE_STATES.includes(r.state))) {
      record.set('running', now(), { error: undefined });
      record.status.attempts += 1;
      try {
        const result = await dispatchStep(record.planned, this.execution(record));
        record.set('succeeded', now(), { outputs: result.outputs ?? record.planned.outputs });
      } catch (error) {
        record.set('failed', now(), { error: errorMessage(error) });
      }
    }
    this.finish('aborted');
    await this.notifySafely('aborted', [], `run aborted: ${reason}`);
  }

  private finish(state: RunState): void {
    this.state = state;
    this.refreshSearchAttributes();
    if (this.plan?.searchAttributes) upsertMemo({ [RUN_SUMMARY_MEMO]: this.summary() });
  }

  private refreshSearchAttributes(): void {
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
    );
    const key = JSON.stringify(pairs.map((pair) => pair.value));
    if (key === this.lastSearchAttributes) return;
    this.lastSearchAttributes = key;
    upsertSearchAttributes(pairs);
  }

  private async notifySafely(event: Notification['event'], steps: string[], message: string): Promise<void> {
    const plan = this.plan as Plan;
    try {
      await notify({ event, pipeline: plan.pipeline, workflowId: plan.workflowId, steps, message });
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('notification failed', { event, error: errorMessage(error) });
    }
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => this.status());
    setHandler(markSucceededSignal, (payload) =>
      this.onStepSignal('markSucceeded', payload, markSucceededRejection, (record) => {
        const reason =
          typeof payload.reason === 'string' && payload.reason ? payload.reason : 'marked by an operator';
        if (record.task) record.decision = { kind: 'markSucceeded', reason };
        else record.set('marked-succeeded', now(), { reason, outputs: record.planned.outputs });
      }),
    );
    setHandler(retryStepSignal, (payload) =>
      this.onStepSignal('retryStep', payload, retryRejection, (record) => {
        if (record.state === 'failed') record.set('pending', now(), { error: undefined });
        else record.decision = { kind: 'retry' };
      }),
    );
    setHandler(approveSignal, (payload) =>
      this.onStepSignal('approve', payload, approveRejection, (record) => {
        record.approved = true;
      }),
    );
    setHandler(rerunFromSignal, (payload) =>
      this.onStepSignal(
        'rerunFrom',
        payload,
        (record) => this.rerunRejection(record),
        (record) => {
          const ids = [...downstreamOf((this.plan as Plan).steps, record.id)];
          for (const id of ids) {
            const target = this.record(id);
            target.resetPending = true;
            target.task?.scope.cancel();
          }
          this.resets.push(ids);
        },
      ),
    );
    setHandler(abortRunSignal, (payload) => {
      const reason =
        typeof payload?.reason === 'string' && payload.reason ? payload.reason : 'aborted by an operator';
      const rejection = this.runRejection();
      this.recordSignal('abortRun', payload, rejection);
      if (!rejection) this.abortReason = reason;
    });
  }

  private rerunRejection(record: StepRecord): string | undefined {
    const ids = downstreamOf((this.plan as Plan).steps, record.id);
    if ([...ids].every((id) => this.record(id).state === 'pending' && !this.record(id).task)) {
      return `step ${record.id} and its downstream have not started; there is nothing to rerun`;
    }
    return undefined;
  }

  private runRejection(): string | undefined {
    if (!this.plan) return 'the run has no plan yet';
    if (this.abortReason !== undefined) return `the run is being aborted (${this.abortReason})`;
    if (this.state !== 'running') return `the run has ended (${this.state})`;
    return undefined;
  }

  private onStepSignal<P extends { step: string }>(
    signal: string,
    payload: P,
    rejection: (record: StepRecord) => string | undefined,
    apply: (record: StepRecord) => void,
  ): void {
    const step = typeof payload?.step === 'string' ? payload.step : undefined;
    const record = step === undefined ? undefined : this.steps.get(step);
    const reason =
      this.runRejection() ??
      (step === undefined
        ? 'the payload names no step ({"step": "<id>"})'
        : !record
          ? `unknown step ${step}`
          : record.resetPending
            ? `step ${step} is being reset by a rerun`
            : rejection(record));
    this.recordSignal(signal, payload, reason);
    if (!reason && record) apply(record);
  }

  private recordSignal(signal: string, payload: unknown, reason: string | undefined): void {
    this.signals.push({ signal, payload, at: now(), accepted: !reason, ...(reason ? { reason } : {}) });
    if (reason) log.warn('signal rejected', { signal, reason });
    this.changed = true;
  }

  private status(): RunStatus {
    return {
      pipeline: this.plan?.pipeline ?? this.input.pipeline,
      workflowId: workflowInfo().workflowId,
      state: this.state,
      params: this.plan?.params ?? this.input.params ?? {},
      ...(this.plan ? { cutoff: this.plan.cutoff, plan: this.plan } : {}),
      steps: this.records().map((record) => record.status),
      rejectedSignals: this.signals.filter((signal) => !signal.accepted),
      operatorActions: this.signals.filter((signal) => signal.accepted),
      ...(this.abortReason !== undefined ? { abortReason: this.abortReason } : {}),
    };
  }

  private summary(): RunSummary {
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
          { state: r.state, cacheKey: r.planned.cacheKey, outputs: r.status.outputs },
        ]),
      ),
    };
  }

  private records(): StepRecord[] {
    return [...this.steps.values()];
  }

  private record(id: string): StepRecord {
    return this.steps.get(id) as StepRecord;
  }
}

/** Workflow time (deterministic), as an ISO string. */
const now = (): string => new Date().toISOString();

const errorMessage = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  // ActivityFailure says only "Activity task failed"; its cause says why.
  return cause instanceof Error ? `${cause.message}` : error.message;
};

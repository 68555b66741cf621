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
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { NotifyActivities, Notification } from '../activities/notify';
import type { PlanActivities } from '../activities/plan';
import type { StepExecution } from '../activities/steps';
import type { Plan } from '../pipelines/core/types';
import {
  DEFAULT_MAX_PARALLEL,
  DONE_STATES,
  RunnerErrorType,
  type PartialRun,
  type RunPipelineInput,
  type RunPipelineResult,
} from './definitions';
import { checkOutputs, dispatchStep, exclusiveTtlMs, type StepHooks } from './runner/dispatch';
import { ExclusiveSpans } from './runner/exclusive-spans';
import { LeaseUpdateRouter } from './lease-holder';
import { legacySpec } from './runner/legacy-plan';
import { finishedItems, mapProgress, runMapStep } from './runner/map-step';
import { installOperatorHandlers } from './runner/operator-signals';
import { errorMessage, now, RunContext } from './runner/run-context';
import { retryFailedItems, StepRecord } from './runner/step-record';
import { recordStepDuration } from './metrics';

export { mapBatch } from './map-batch';

// Both heartbeat (activities/heartbeat.ts): a worker that dies in one is noticed in 30 s; the
// start-to-close bounds a stuck git or warehouse call. Options are not part of the command's
// identity on replay, so in-flight runs take them without a patch.
const { planRun } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: Object.values(RunnerErrorType) },
});
const { notify } = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

const SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

/** Patch id: a rerunFrom with `keepCached` (a data arrival) lets unchanged steps and items be cached. */
const RERUN_KEEPS_CACHED = 'rerun-keeps-cached';

type Outcome = Pick<StepRecord['status'], 'state' | 'outputs' | 'info' | 'reason'>;

/** Runs a pipeline: plan (an activity), then every ready step concurrently until nothing can run. */
export async function runPipeline(input: RunPipelineInput): Promise<RunPipelineResult> {
  return await new PipelineRun(input).execute();
}

class PipelineRun {
  private readonly run: RunContext;
  /** Lease grants for the run's exclusive steps (one handler for all of them). */
  private readonly leases = new LeaseUpdateRouter();
  /** The exclusive leases the run holds from its first step naming one until the last one settled. */
  private readonly spans = new ExclusiveSpans(this.leases, (name) =>
    Math.max(
      ...(this.run.plan?.steps ?? []).filter((s) => s.exclusive === name).map((s) => exclusiveTtlMs(s)),
      3_600_000,
    ),
  );

  constructor(input: RunPipelineInput) {
    this.run = new RunContext(input);
  }

  /** What a step reports while it runs: its VMs' usage, and what it waits for (an exclusive lease). */
  private hooks(record: StepRecord): StepHooks {
    return {
      onVmUsage: (vms) => record.addVmUsage(vms),
      leases: this.leases,
      spans: this.spans,
      onWaiting: (note) => {
        if (note) record.status.note = note;
        else delete record.status.note;
      },
    };
  }

  async execute(): Promise<RunPipelineResult> {
    // Runs started before the bounded scheduler keep their unbounded launches and CurrentStep values.
    this.run.bounded = patched('bounded-scheduler');
    installOperatorHandlers(this.run);
    const info = workflowInfo();
    const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
    this.run.plan = await planRun({
      ...this.run.input,
      workflowId: info.workflowId,
      startTime: info.startTime.toISOString(),
      ...(scheduled ? { scheduledStartTime: scheduled.toISOString() } : {}),
    });
    for (const planned of this.run.plan.steps) this.run.steps.set(planned.id, new StepRecord(planned));
    this.run.state = 'running';
    try {
      return await this.afterPlan();
    } finally {
      // Whatever ended the run (a cleanup step may have taken one again): no lease outlives it.
      await CancellationScope.nonCancellable(() => this.spans.releaseAll());
    }
  }

  private async afterPlan(): Promise<RunPipelineResult> {
    try {
      await this.loop();
    } catch (error) {
      if (!isCancellation(error)) throw error;
      await CancellationScope.nonCancellable(() => this.abort('the workflow was cancelled'));
      throw error;
    }
    if (this.run.abortReason !== undefined) {
      await CancellationScope.nonCancellable(() => this.abort(this.run.abortReason as string));
      throw ApplicationFailure.create({
        type: RunnerErrorType.RunAborted,
        message: `run aborted: ${this.run.abortReason}`,
        nonRetryable: true,
        details: [this.run.summary()],
      });
    }
    // Nothing runs any more: the run's exclusive leases go before its cleanup and notifications.
    await CancellationScope.nonCancellable(() => this.spans.releaseAll());
    let failed = this.run.records().filter((record) => record.state === 'failed');
    if (failed.length > 0 && patched('cleanup-on-failure')) {
      // A failed run cleans up too: its cleanup steps, with their spec (the run's policy). What they
      // delete comes from this run's own record, so nothing of another run is touched.
      await CancellationScope.nonCancellable(() => this.runCleanupSteps());
      failed = this.run.records().filter((record) => record.state === 'failed');
    }
    this.run.finish(failed.length > 0 ? 'failed' : 'succeeded');
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
        details: [this.run.summary()],
      });
    }
    await this.notifySafely('succeeded', [], 'all steps done');
    return this.run.summary();
  }

  /** Launches ready steps and waits for changes until no step runs or waits and no rerun is pending. */
  private async loop(): Promise<void> {
    for (;;) {
      if (this.run.abortReason !== undefined) return;
      await this.applyResets();
      this.propagateSkips();
      // Only a run holding a span awaits here (no extra turn for runs without one).
      if (this.spans.names().length > 0) await this.releaseSettledSpans();
      this.launchReady();
      this.run.refreshSearchAttributes();
      if (!this.run.records().some((record) => record.task) && this.run.resets.length === 0) return;
      this.run.changed = false;
      await condition(() => this.run.changed);
    }
  }

  /**
   * Gives back each exclusive lease the run holds once every step naming it has settled (succeeded,
   * cached, reused, marked succeeded or skipped). A step that failed, runs, waits for a decision or is
   * pending keeps it held. Checked again after each release, which may have seen steps settle.
   */
  private async releaseSettledSpans(): Promise<void> {
    const settled = (name: string) =>
      this.run
        .records()
        .filter((record) => record.planned.exclusive === name)
        .every((record) => !record.task && [...DONE_STATES, 'skipped'].includes(record.state));
    while (this.spans.names().some(settled)) {
      await CancellationScope.nonCancellable(() => this.spans.releaseWhere(settled));
    }
  }

  /** Launches ready steps in plan order, at most `maxParallel` executing at once (bounded runs). */
  private launchReady(): void {
    const limit = this.run.bounded
      ? (this.run.plan?.maxParallel ?? DEFAULT_MAX_PARALLEL)
      : Number.POSITIVE_INFINITY;
    let executing = this.run.records().filter((record) => record.task && record.state === 'running').length;
    executing = this.launchPartials(limit, executing);
    for (const record of this.run.records()) {
      if (executing >= limit) return;
      if (!this.isReady(record)) continue;
      this.launch(record);
      executing += 1;
    }
  }

  private isReady(record: StepRecord): boolean {
    return (
      record.state === 'pending' &&
      !record.task &&
      !record.resetPending &&
      record.planned.after.every((id) => DONE_STATES.includes(this.run.record(id).state))
    );
  }

  /** Pending steps behind a failed or skipped one are skipped; they come back when it is retried. */
  private propagateSkips(): void {
    for (const record of this.run.records()) {
      if (record.task || (record.state !== 'pending' && record.state !== 'skipped')) continue;
      const blocked = record.planned.after.find((id) =>
        ['failed', 'skipped'].includes(this.run.record(id).state),
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
    this.run.changed = true;
    if (outcome) {
      record.set(outcome.state, now(), outcome);
    } else if (isCancellation(error)) {
      record.set('failed', now(), { error: 'cancelled' });
    } else {
      record.set('failed', now(), { error: errorMessage(error) });
      log.warn('step failed', { step: record.id, error: record.status.error });
    }
    const { startedAt, endedAt } = record.status;
    recordStepDuration(this.run.input.pipeline, record.id, record.state, startedAt, endedAt);
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
    } else if (
      planned.cache &&
      !planned.map && // a map step's cache is per item
      !record.forceRun &&
      (await checkOutputs(planned, execution)) === true
    ) {
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
      this.run.changed = true;
    }
    for (;;) {
      record.status.attempts += 1;
      try {
        const attempt = { ...execution, attempt: record.status.attempts };
        const result = planned.map
          ? await runMapStep(this.run, record, attempt)
          : await dispatchStep(planned, attempt, this.hooks(record));
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
        if (decision?.kind === 'retry') retryFailedItems(record);
        this.run.changed = true;
      }
    }
  }

  private await(record: StepRecord, awaiting: 'approval' | 'failure', error?: string): void {
    record.set('awaiting-decision', now(), { awaiting, ...(error ? { error } : {}) });
    this.run.changed = true;
  }

  private execution(record: StepRecord): StepExecution {
    const plan = this.run.plan as Plan;
    const planned = record.planned;
    return {
      workflowId: plan.workflowId,
      pipeline: plan.pipeline,
      step: {
        id: planned.id,
        kind: planned.kind,
        // Hermetic: the spec carries everything; a plan recorded before that gets its cutoff there.
        spec: planned.runs ? planned.spec : legacySpec(planned, plan.cutoff),
        version: planned.version,
        cacheKey: planned.cacheKey,
        ...(planned.commit ? { commit: planned.commit } : {}),
        ...(planned.repo ? { repo: planned.repo } : {}),
      },
      outputs: planned.outputs,
      inputs: Object.fromEntries(planned.after.map((id) => [id, this.run.record(id).status.outputs])),
      attempt: record.status.attempts,
      ...this.mapInputs(record),
    };
  }

  /** Downstream of map steps: their finished items; an eachBatch step's normal run is its final batch. */
  private mapInputs(record: StepRecord, batch?: number): Pick<StepExecution, 'items' | 'batch'> {
    const maps = record.planned.after.map((id) => this.run.record(id)).filter((r) => r.planned.map);
    if (maps.length === 0) return {};
    const items = Object.fromEntries(maps.map((map) => [map.id, finishedItems(map, batch)]));
    if (!record.planned.eachBatch) return { items };
    const total = mapProgress(maps[0] as StepRecord).batches.total;
    return { items, batch: { index: batch ?? total, of: total, final: batch === undefined } };
  }

  /**
   * eachBatch steps whose map upstream is still running run on each newly finished batch (one at a
   * time, in order), once their other upstream steps are done.
   */
  private launchPartials(limit: number, executing: number): number {
    for (const record of this.run.records()) {
      if (executing >= limit) break;
      if (!record.planned.eachBatch || record.state !== 'pending' || record.task || record.resetPending)
        continue;
      const upstream = record.planned.after.map((id) => this.run.record(id));
      const map = upstream.find((r) => r.planned.map);
      if (!map || map.state !== 'running') continue;
      if (!upstream.every((r) => r === map || DONE_STATES.includes(r.state))) continue;
      const progress = mapProgress(map);
      const batch = record.partials.length + 1;
      if (batch > progress.batches.finished || batch >= progress.batches.total) continue;
      this.launchPartial(record, batch);
      executing += 1;
    }
    return executing;
  }

  private launchPartial(record: StepRecord, batch: number): void {
    const generation = ++record.generation;
    const execution = { ...this.execution(record), ...this.mapInputs(record, batch) };
    const outputs = Object.fromEntries(
      Object.entries(record.planned.outputs).map(([name, value]) => [name, `${value}_b${batch}`]),
    );
    const partial: PartialRun = {
      batch,
      items: Object.values(execution.items ?? {})[0]?.length ?? 0,
      state: 'running',
      outputs,
    };
    record.partials.push(partial);
    record.set('running', now(), { error: undefined });
    const scope = new CancellationScope();
    const promise = scope
      .run(() => dispatchStep({ ...record.planned, outputs }, { ...execution, outputs }, this.hooks(record)))
      .then(
        (result) => {
          partial.state = 'succeeded';
          partial.outputs = result.outputs ?? outputs;
        },
        (error: unknown) => {
          partial.state = 'failed';
          partial.error = isCancellation(error) ? 'cancelled' : errorMessage(error);
          log.warn('partial run failed', { step: record.id, batch, error: partial.error });
        },
      )
      .then(() => {
        if (generation !== record.generation) return;
        record.task = undefined;
        this.run.changed = true;
        // Back to waiting for the map; the step's own run comes when the map has succeeded.
        if (record.state === 'running') record.set('pending', now());
      });
    record.task = { scope, promise };
  }

  /** rerunFrom: waits until the cancelled steps have stopped, then resets the whole set. */
  private async applyResets(): Promise<void> {
    while (this.run.resets.length > 0) {
      const { ids, keepCached } = this.run.resets.shift() as RunContext['resets'][number];
      // A rerun that keeps caches checks outputs it used to skip: new commands, so behind a patch (a
      // history recorded before it forced the rerun, and replays so).
      const force = !(keepCached && patched(RERUN_KEEPS_CACHED));
      await Promise.all(ids.map((id) => this.run.record(id).task?.promise));
      for (const id of ids) {
        const record = this.run.record(id);
        record.generation += 1;
        record.task = undefined;
        record.reset(force);
      }
    }
  }

  /** Cancels what runs, then runs cleanup steps and notifies; the caller holds a non-cancellable scope. */
  private async abort(reason: string): Promise<void> {
    this.run.abortReason = reason;
    const running = this.run.records().filter((record) => record.task);
    running.forEach((record) => record.task?.scope.cancel());
    await Promise.all(running.map((record) => record.task?.promise));
    await this.spans.releaseAll();
    for (const record of this.run.records()) {
      if (record.state === 'failed' && record.status.error === 'cancelled')
        record.status.error = `cancelled: ${reason}`;
      if (record.state === 'pending') record.set('skipped', now(), { error: `run aborted: ${reason}` });
    }
    await this.runCleanupSteps();
    this.run.finish('aborted');
    await this.notifySafely('aborted', [], `run aborted: ${reason}`);
  }

  /** Runs the cleanup steps that have not run (skipped behind a failure, or an abort), one by one. */
  private async runCleanupSteps(): Promise<void> {
    for (const record of this.run
      .records()
      .filter((r) => r.planned.cleanup && !DONE_STATES.includes(r.state))) {
      record.set('running', now(), { error: undefined });
      record.status.attempts += 1;
      try {
        const result = await dispatchStep(record.planned, this.execution(record), this.hooks(record));
        record.set('succeeded', now(), {
          outputs: result.outputs ?? record.planned.outputs,
          ...(result.info ? { info: result.info } : {}),
        });
      } catch (error) {
        record.set('failed', now(), { error: errorMessage(error) });
      }
    }
  }

  private async notifySafely(event: Notification['event'], steps: string[], message: string): Promise<void> {
    const plan = this.run.plan as Plan;
    try {
      await notify({ event, pipeline: plan.pipeline, workflowId: plan.workflowId, steps, message });
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('notification failed', { event, error: errorMessage(error) });
    }
  }
}

import { WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTableName } from '../../activities/bigquery/steps';
import {
  abortRunSignal,
  markSucceededSignal,
  statusQuery,
  type RunStatus,
  type RunSummary,
} from '../../workflows/definitions';
import { trainingProgressQuery } from '../../workflows/training-types';
import { backfillQuarterStart, createQuarterlySchedule } from './fixtures/schedule';
import { waitFor } from './fixtures/training';
import {
  createVisitsScalingWorker,
  productionVersions,
  runToEnd,
  startRun,
  stepOf,
  trainingsStarted,
  waitForStep,
} from './visits-scaling-fixtures';
import { useVisitsScalingSuite } from './visits-scaling-suite';

const MODELS = ['visits_share', 'quality', 'trend', 'real_visits'];

describe('the visits-scaling pipeline on the local stack (dev server, BigQuery emulator, sshd + tmux VMs)', () => {
  const suite = useVisitsScalingSuite();
  /** The first full run, which later runs are compared with and rerun from. */
  let first: { workflowId: string; status: RunStatus };

  const versionsIn = async (table: string) =>
    (
      await suite.warehouse.queryRows({
        sql: `SELECT DISTINCT model_version FROM \`visits_production.${table}\` ORDER BY 1`,
      })
    ).map((row) => row.model_version);
  const exists = async (name: string) =>
    (await suite.warehouse.describeTable({ table: parseTableName(name) })).exists;

  /** Runs to the end; a run that asks for approval shows production untouched, then is approved. */
  const run = (params: Record<string, string | number | boolean> = {}, extra = {}) =>
    runToEnd(suite, { params, ...extra }, async (waiting) => {
      expect(stepOf(waiting, 'promote').awaiting).toBe('approval');
      expect(await productionVersions(suite.stack.registryDir)).toEqual(
        (stepOf(first.status, 'promote').info as { versions: Record<string, string> }).versions,
      );
    });

  it('runs end to end: new models in production, tables replaced, the gap filled, intermediates gone', async () => {
    const { workflowId, result, status } = await run();
    first = { workflowId, status };
    expect(result.state).toBe('succeeded');
    expect(status.steps.filter((s) => s.state !== 'succeeded').map((s) => s.id)).toEqual([]);
    expect(await trainingsStarted(suite.env, workflowId)).toHaveLength(4);

    const evaluation = stepOf(status, 'evaluate').info as {
      promote: boolean;
      models: Record<string, unknown>;
    };
    expect(evaluation.promote).toBe(true);
    const promoted = stepOf(status, 'promote').info as {
      promoted: boolean;
      versions: Record<string, string>;
    };
    expect(promoted.promoted).toBe(true);
    expect(result.steps.promote?.outputs).toMatchObject({ promoted: 'true' });
    expect(Object.keys(promoted.versions).sort()).toEqual([...MODELS].sort());
    expect(await productionVersions(suite.stack.registryDir)).toEqual(promoted.versions);
    for (const model of ['visits_share', 'quality', 'trend']) {
      expect(await versionsIn(`${model}_predictions`)).toEqual([promoted.versions[model]]);
    }
    // poi_visits_scaled: the previous quarter's rows up to the cutoff, the new model's after it.
    const scaled = await suite.warehouse.queryRows({
      sql: 'SELECT model_version, MIN(day) AS first, MAX(day) AS last FROM `visits_production.poi_visits_scaled` GROUP BY 1 ORDER BY 2',
    });
    expect(scaled.map((row) => row.model_version)).toEqual([
      suite.stack.warehouse.previousVersion,
      promoted.versions.real_visits,
    ]);
    expect(scaled[1]?.last).toBe(suite.stack.warehouse.end);

    // Cleanup worked from the run's record: what it created beyond the step outputs is gone, and the
    // outputs (the cache of an identical run, the inputs of a rerun) are all that is left of it.
    const created = status.steps.flatMap((s) => (s.info?.createdTables as string[] | undefined) ?? []);
    expect(created.length).toBeGreaterThan(10);
    const left = await Promise.all(created.map(async (name) => ((await exists(name)) ? name : undefined)));
    const outputs = new Set(status.steps.flatMap((s) => Object.values(s.outputs)));
    expect(left.filter((name) => name && !outputs.has(name))).toEqual([]);
    expect(stepOf(status, 'cleanup').info).toMatchObject({ keptOutputs: true });
    // Training VMs are gone; quality's persistent instance is stopped, not deleted.
    const vms = await suite.stack.provider.list();
    expect(vms.map((vm) => [vm.name, vm.status])).toEqual([['quality-notebook', 'STOPPED']]);
  }, 240_000);

  it('the same run again with nothing changed: every step cached, no training launched', async () => {
    const { workflowId, result, status } = await run();
    expect(result.state).toBe('succeeded');
    const states = Object.fromEntries(status.steps.map((s) => [s.id, s.state]));
    // cleanup always runs (it has no output to be cached) and finds nothing of this run to delete.
    expect(states).toEqual({
      ...Object.fromEntries(status.steps.map((s) => [s.id, 'cached'])),
      cleanup: 'succeeded',
    });
    expect(stepOf(status, 'cleanup').info).toMatchObject({ deleted: [] });
    expect(await trainingsStarted(suite.env, workflowId)).toEqual([]);
    expect(status.steps.map((s) => s.cacheKey)).toEqual(first.status.steps.map((s) => s.cacheKey));
  }, 120_000);

  it('a rerun from quality of a finished run reuses visits share, recomputes quality, real visits and what follows, and promotes once approved', async () => {
    const { workflowId, result, status } = await run(
      // Nothing changed: `from` alone makes quality and everything after it run again.
      { require_approval: true },
      { reuseRunId: first.workflowId, from: 'quality.data' },
    );
    expect(result.state).toBe('succeeded');
    for (const id of [
      'prepare',
      'visits_share.data',
      'visits_share.train',
      'visits_share.predict',
      'trend.train',
    ]) {
      expect([id, stepOf(status, id).state]).toEqual([id, 'reused']);
      expect(stepOf(status, id).outputs).toEqual(stepOf(first.status, id).outputs);
    }
    for (const id of [
      'quality.data',
      'quality.train',
      'quality.predict',
      'real_visits.train',
      'evaluate',
      'promote',
    ]) {
      expect([id, stepOf(status, id).state]).toEqual([id, 'succeeded']);
    }
    const trainings = await trainingsStarted(suite.env, workflowId);
    expect(trainings.map((id) => id.split('/').at(-2)).sort()).toEqual([
      'quality.train',
      'real_visits.train',
    ]);
    // Same data and steps: the retrained models score like their champions and replace them.
    const versions = await productionVersions(suite.stack.registryDir);
    expect(versions.visits_share).toBe(
      (stepOf(first.status, 'promote').info as { versions: Record<string, string> }).versions.visits_share,
    );
    expect(versions.quality).toBe((stepOf(status, 'quality.train').info as { version: string }).version);
  }, 180_000);

  it('a trend training that fails waits for an operator; marked succeeded, the worse challenger is not promoted', async () => {
    const before = await productionVersions(suite.stack.registryDir);
    const tablesBefore = await versionsIn('trend_predictions');
    const worker = await createVisitsScalingWorker(suite);
    const { workflowId, result, status } = await worker.runUntil(async () => {
      const handle = await startRun(suite.env, worker, {
        cutoff: suite.stack.warehouse.cutoff,
        // No automatic retry from the checkpoint: the failure goes to an operator at once.
        params: { ...suite.stack.params, trend_fail_at_step: 5, train_retries: 0, cleanup_outputs: true },
      });
      const waiting = await waitForStep(suite.env, handle.workflowId, 'trend.train', 'awaiting-decision');
      expect(stepOf(waiting, 'trend.train')).toMatchObject({ awaiting: 'failure' });
      expect(stepOf(waiting, 'trend.train').error).toMatch(/needs a decision: training exited with code 3/);
      await handle.signal(markSucceededSignal, {
        step: 'trend.train',
        reason: 'the checkpoint is good enough',
      });
      const result = await handle.result();
      return { workflowId: handle.workflowId, result, status: await handle.query(statusQuery) };
    });
    expect(result.state).toBe('succeeded');
    expect(stepOf(status, 'trend.train')).toMatchObject({ state: 'marked-succeeded' });
    const evaluation = stepOf(status, 'evaluate').info as {
      promote: boolean;
      reason: string;
      models: Record<string, { passed: boolean }>;
    };
    expect(evaluation.promote).toBe(false);
    expect(evaluation.models.trend?.passed).toBe(false);
    expect(evaluation.reason).toMatch(/^not promoted: trend challenger mse/);
    expect(stepOf(status, 'promote').info).toMatchObject({ promoted: false, reason: evaluation.reason });
    expect(result.steps.promote?.outputs).toMatchObject({ promoted: 'false' });
    expect(stepOf(status, 'gapfill').info).toMatchObject({ filled: false });
    expect(await productionVersions(suite.stack.registryDir)).toEqual(before);
    expect(await versionsIn('trend_predictions')).toEqual(tablesBefore);
    // train_retries is in every training's spec: all four trained (trend once, failing), none was cached.
    expect((await trainingsStarted(suite.env, workflowId)).map((id) => id.split('/').at(-2)).sort()).toEqual([
      'quality.train',
      'real_visits.train',
      'trend.train',
      'visits_share.train',
    ]);
    // cleanup_outputs: no table this run created is left.
    const created = status.steps.flatMap((s) => (s.info?.createdTables as string[] | undefined) ?? []);
    expect(created.length).toBeGreaterThan(0);
    expect((await Promise.all(created.map(exists))).filter(Boolean)).toEqual([]);
  }, 180_000);

  it('the first configuration run again after production moved on is evaluated against the new champions', async () => {
    const firstVersions = (stepOf(first.status, 'promote').info as { versions: Record<string, string> })
      .versions;
    expect(await productionVersions(suite.stack.registryDir)).not.toEqual(firstVersions);
    const { workflowId, result, status } = await run();
    expect(result.state).toBe('succeeded');
    expect(await trainingsStarted(suite.env, workflowId)).toEqual([]);
    const states = Object.fromEntries(status.steps.map((s) => [s.id, s.state]));
    expect(states).toMatchObject({ 'quality.train': 'cached', evaluate: 'succeeded', promote: 'succeeded' });
    const evaluation = stepOf(status, 'evaluate').info as {
      models: Record<string, { championVersion: string }>;
    };
    expect(evaluation.models.quality?.championVersion).not.toBe(firstVersions.quality);
    expect(await productionVersions(suite.stack.registryDir)).toEqual(firstVersions);
    expect(stepOf(status, 'gapfill')).toMatchObject({
      state: 'succeeded',
      info: { filled: true, modelVersion: firstVersions.real_visits },
    });
  }, 120_000);

  it('an aborted run cancels its trainings: the children tear their VMs down and cleanup still runs', async () => {
    const worker = await createVisitsScalingWorker(suite);
    const { failure, status, children } = await worker.runUntil(async () => {
      const handle = await startRun(suite.env, worker, {
        cutoff: suite.stack.warehouse.cutoff,
        params: { ...suite.stack.params, train_steps: 1_000_000, train_seconds: 120 },
      });
      const child = suite.env.client.workflow.getHandle(`${handle.workflowId}/quality.train/1`);
      await waitFor('quality training', async () => {
        return (await child.query(trainingProgressQuery)).phase === 'training' || undefined;
      });
      await handle.signal(abortRunSignal, { reason: 'operator changed their mind' });
      const failure = await handle.result().catch((error: unknown) => error);
      const children = await trainingsStarted(suite.env, handle.workflowId);
      return { failure, status: await handle.query(statusQuery), children };
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'RunAborted' });
    expect(stepOf(status, 'quality.train')).toMatchObject({
      state: 'failed',
      error: 'cancelled: operator changed their mind',
    });
    expect(stepOf(status, 'cleanup').state).toBe('succeeded');
    // The exported training data of the cancelled trainings went with them.
    expect(readdirSync(join(suite.stack.dir, 'work', 'train'))).toEqual([]);
    for (const id of children) {
      expect((await suite.env.client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    }
    const vms = await suite.stack.provider.list();
    expect(vms.map((vm) => [vm.name, vm.status])).toEqual([['quality-notebook', 'STOPPED']]);
  }, 120_000);

  it('a backfilled quarterly run takes its cutoff from the nominal time, not its start', async () => {
    const worker = await createVisitsScalingWorker(suite);
    const scheduleId = `visits-scaling-quarterly-${randomUUID()}`;
    const schedule = await createQuarterlySchedule(
      suite.env.client,
      scheduleId,
      // A missing source dataset makes the run stop at `prepare`: only its plan matters here.
      { pipeline: 'visits-scaling', params: { ...suite.stack.params, source_dataset: 'no_such_dataset' } },
      worker.options.taskQueue,
    );
    try {
      const status = await worker.runUntil(async () => {
        await backfillQuarterStart(schedule, '2026-04-01');
        const started = await waitFor('the backfilled run', async () => {
          return (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId;
        });
        const handle = suite.env.client.workflow.getHandle(started);
        const failure = await handle.result().catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(WorkflowFailedError);
        expect(
          ((failure as WorkflowFailedError).cause as { details?: RunSummary[] }).details?.[0]?.cutoff,
        ).toBe('2026-04-01');
        return await handle.query(statusQuery);
      });
      expect(status.plan).toMatchObject({ cutoff: '2026-04-01', cutoffSource: 'schedule' });
      expect(status.plan?.createdAt.slice(0, 10)).not.toBe('2026-04-01');
      expect(stepOf(status, 'prepare').error).toMatch(/^source tables not found: no_such_dataset.pois/);
    } finally {
      await schedule.delete();
    }
  }, 120_000);
});

import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import { joinOrStartRun } from '../../clients/join-run';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { createRegistryActivities } from '../../activities/registry';
import { MODEL_NAME, TABLES } from '../../pipelines/sensor-clustering/schema';
import { generateReadings, sensorIds } from '../../pipelines/sensor-clustering/synthetic/generate';
import { landSensorDay, loadReadings } from '../../pipelines/sensor-clustering/synthetic/load';
import { sensorClusteringDaily } from '../../pipelines/sensor-clustering/trigger';
import { createActivities, workflowsPath } from '../../workers/worker';
import { statusQuery, type RunStatus } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

const SEED = 3;
const SENSORS = 8;
const DAY = '2026-11-02';

const stepOf = (status: RunStatus, id: string) => {
  const step = status.steps.find((s) => s.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step;
};

describe('sensor-clustering on the local stack (dev server, BigQuery emulator, sshd + tmux VMs)', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  let bundle: WorkflowBundleWithSourceMap;
  let dir: string;
  let provider: LocalVmProvider;
  let params: Record<string, string | number>;

  beforeAll(async () => {
    dir = testTempDir('sensor-clustering');
    Object.assign(process.env, {
      DATA_DIR: dir,
      REGISTRY_DIR: join(dir, 'registry'),
      LOCAL_VM_ROOT: join(dir, 'vms'),
    });
    provider = new LocalVmProvider({
      root: join(dir, 'vms'),
      imagesDir: join(projectRoot, 'machine-images'),
    });
    [env, bq, bundle] = await Promise.all([
      createDevServerEnv(),
      startBigQueryHarness(),
      bundleWorkflowCode({ workflowsPath: workflowsPath() }),
    ]);
    const { readings } = generateReadings({ seed: SEED, sensors: SENSORS, start: DAY, days: 1 });
    await loadReadings(bq.bigquery, bq.config, join(dir, 'synthetic'), readings);
    // Pinned once: commits landing while the suite runs must not change the steps' keys.
    const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    params = { models_repo: projectRoot, models_ref: commit };
  }, 120_000);
  afterAll(async () => {
    for (const vm of (await provider?.list()) ?? []) await provider.delete(vm.name);
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  const withWorker = async <T>(fn: (taskQueue: string) => Promise<T>): Promise<T> => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `sensor-clustering-${randomUUID()}`,
      workflowBundle: bundle,
      activities: createActivities({ bigquery: bq.bigquery }),
    });
    return await worker.runUntil(fn(worker.options.taskQueue));
  };
  /** A sensor's readings landed for DAY: the day's run takes them in, or starts. */
  const arrive = (taskQueue: string, sensor: string) =>
    joinOrStartRun(env.client, {
      pipeline: 'sensor-clustering',
      runKey: DAY,
      cutoff: DAY,
      params,
      rerunFrom: sensorClusteringDaily.rerunFrom,
      reason: `arrived: ${sensor}`,
      taskQueue,
    });
  const warehouse = () => createBigQueryActivities(bq.bigquery, bq.config);

  it('without a production model: every sensor’s features are published, inference fails naming the retrain', async () => {
    await withWorker(async (taskQueue) => {
      const { workflowId, runId } = await arrive(taskQueue, 'hive-001');
      expect(workflowId).toBe(`sensor-clustering/${DAY}`);
      const handle = env.client.workflow.getHandle(workflowId, runId);
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      const status = await handle.query(statusQuery);
      expect(stepOf(status, 'sensors').info).toMatchObject({ count: SENSORS });
      expect(stepOf(status, 'features').map).toMatchObject({ total: SENSORS, succeeded: SENSORS, cached: 0 });
      expect(stepOf(status, 'clustering_inference').error).toMatch(
        /run the sensor-clustering-retrain pipeline first/,
      );
      const [count] = await warehouse().queryRows({
        sql: `SELECT COUNT(DISTINCT sensor_id) AS n FROM \`${TABLES.features}\` WHERE date = '${DAY}'`,
      });
      expect(Number(count?.n)).toBe(SENSORS);
    });
  }, 180_000);

  it('retrains on a VM from the features dataset and files a production version', async () => {
    const result = await withWorker(async (taskQueue) =>
      env.client.workflow.execute(runPipeline, {
        args: [{ pipeline: 'sensor-clustering-retrain', cutoff: DAY, params: { ...params, restarts: 4 } }],
        workflowId: `sensor-clustering-retrain/${randomUUID().slice(0, 8)}`,
        taskQueue,
      }),
    );
    expect(result.state).toBe('succeeded');
    const production = await createRegistryActivities(join(dir, 'registry')).getModelAlias({
      model: MODEL_NAME,
    });
    expect(production?.version).toMatch(new RegExp(`^${DAY}-`));
    expect(production?.lineage.cutoff).toBe(DAY);
  }, 180_000);

  it('a late, corrected sensor makes a follow-up run of the day: only it is recomputed, clusters in the table', async () => {
    const production = await createRegistryActivities(join(dir, 'registry')).getModelAlias({
      model: MODEL_NAME,
    });
    const changed = sensorIds(SENSORS)[4] as { id: string; profile: 'strong' };
    await landSensorDay(bq.bigquery, bq.config, join(dir, 'synthetic'), {
      seed: SEED,
      sensor: changed,
      date: DAY,
      shift: 0.4,
    });
    const status = await withWorker(async (taskQueue) => {
      const { workflowId, runId } = await arrive(taskQueue, changed.id);
      const handle = env.client.workflow.getHandle(workflowId, runId);
      expect((await handle.result()).state).toBe('succeeded');
      return await handle.query(statusQuery);
    });
    // One item per sensor: only the changed one is computed, the others are cached.
    expect(stepOf(status, 'features').map).toMatchObject({
      total: SENSORS,
      succeeded: 1,
      cached: SENSORS - 1,
    });
    const [published] = await warehouse().queryRows({
      sql: `SELECT COUNT(*) AS n FROM \`${TABLES.features}\` WHERE date = '${DAY}'`,
    });
    expect(Number(published?.n)).toBe(SENSORS);

    const metrics = stepOf(status, 'clustering_inference').info as Record<string, number | string | boolean>;
    expect(metrics).toMatchObject({
      date: DAY,
      model_version: production?.version,
      sensors: SENSORS,
      sensors_expected: SENSORS,
      partial: false,
      model_age_days: 0,
      dataset_rows: SENSORS * 48,
    });
    expect(metrics.silhouette).toBeGreaterThan(0.3);
    expect(metrics.davies_bouldin).toBeGreaterThan(0);
    expect(metrics.calinski_harabasz).toBeGreaterThan(1);
    const rows = await warehouse().queryRows({
      sql: `SELECT sensor_id, cluster, model_version, partial FROM \`${TABLES.results}\` WHERE date = '${DAY}' ORDER BY sensor_id`,
    });
    expect(rows).toHaveLength(SENSORS);
    expect(new Set(rows.map((row) => row.model_version))).toEqual(new Set([production?.version]));
    // The final inference replaced any partial one (batches of 20 %: partial results while the map ran).
    expect(rows.every((row) => row.partial === false)).toBe(true);
    for (const partial of stepOf(status, 'clustering_inference').partials ?? []) {
      expect(partial.items).toBe(Math.ceil(SENSORS * 0.2) * partial.batch);
    }
    // Sensors of one behaviour share a cluster.
    const byProfile = new Map<string, Set<unknown>>();
    for (const sensor of sensorIds(SENSORS)) {
      const row = rows.find((r) => r.sensor_id === sensor.id);
      byProfile.set(sensor.profile, (byProfile.get(sensor.profile) ?? new Set()).add(row?.cluster));
    }
    expect([...byProfile.values()].map((clusters) => clusters.size)).toEqual([1, 1, 1, 1]);
  }, 180_000);
});

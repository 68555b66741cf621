import type { BigQuery } from '@google-cloud/bigquery';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBigQueryActivities } from '../../activities/bigquery';
import { projectRoot } from '../../activities/providers/paths';
import { createRegistryActivities, modelRegistryLocation } from '../../activities/registry';
import { createApp } from '../../api/app';
import { parseApiTokens, type Config } from '../../config';
import { MODEL_NAME, TABLES } from '../../pipelines/sensor-clustering/schema';
import { generateReadings, sensorIds } from '../../pipelines/sensor-clustering/synthetic/generate';
import { landSensorDay, loadReadings } from '../../pipelines/sensor-clustering/synthetic/load';
import { createWorker } from '../../workers/worker';
import { ApiClient } from './http';
import { ProgressPrinter, type RunView } from './progress';

const SEED = 1;
const SENSORS = 24;
const DAYS = ['2026-11-02', '2026-11-03'];
/** The line `npm run demo -- --list` prints. */
export const SENSOR_DEMO_ABOUT =
  'seed 001: two days of hive sensors, features per sensor, KMeans retrained on a VM, late sensors joining the day';
/** Sensors of the second day whose readings land while its run is already going. */
const LATE = 4;

interface SensorWarehouse {
  days: string[];
  late: string[];
}

/**
 * `npm run demo -- sensor-clustering`: seed 001 through the API. Two days of hive sensors; the
 * first day's run (started by its first sensor's arrival) computes every sensor's features; with no
 * production model yet (a fresh warehouse) the retrain pipeline trains one on a local VM first; the
 * second day's run starts when its first sensor lands, and late sensors join the running run
 * (never a second run). Prints the clusters and the metrics stored with the run.
 */
export async function runSensorDemo(options: {
  config: Config;
  bigquery: BigQuery;
  print?: (line: string) => void;
}): Promise<{ workflowId: string; view: RunView }> {
  const print = options.print ?? ((line: string) => console.log(line));
  const { config, bigquery } = options;
  const warehouse = await prepare(bigquery, config, print);
  const { worker, connection } = await createWorker({ config, bigquery, notify: config });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  // Tokens are `name:role:secret`; the bearer is the secret (the demo's own admin token).
  const api = new ApiClient(await app.getUrl(), parseApiTokens(config.API_TOKENS)[0]?.secret ?? '');
  print(`worker on task queue ${config.TEMPORAL_TASK_QUEUE}; API on ${await app.getUrl()}`);
  const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const params = { models_repo: projectRoot, models_ref: commit };
  const registry = createRegistryActivities(modelRegistryLocation(config), {
    apiEndpoint: config.GCS_API_ENDPOINT,
  });
  try {
    return await worker.runUntil(async () => {
      const [first, second] = warehouse.days as [string, string];
      if (!(await registry.getModelAlias({ model: MODEL_NAME }))) {
        print(`\nno production ${MODEL_NAME} model yet: features of ${first} first, then a retrain on a VM`);
        await runDay(api, first, 'hive-001', print);
        const retrain = await api.request<{ workflowId: string }>('POST', '/runs', {
          pipeline: 'sensor-clustering-retrain',
          runKey: `demo-${Date.now()}`,
          cutoff: first,
          params: { ...params, dataset: TABLES.features, restarts: 6 },
        });
        print(`\nPOST /runs sensor-clustering-retrain → ${retrain.body.workflowId}`);
        await follow(api, retrain.body.workflowId, print);
        const production = await registry.getModelAlias({ model: MODEL_NAME });
        print(`  registry: ${MODEL_NAME} production → ${production?.version ?? 'none'}`);
      }
      // A sensor of the first day lands again: a follow-up run of that day, every sensor cached.
      await runDay(api, first, 'hive-001', print);
      // The second day: its run starts with the first sensor; the late ones join it while it runs,
      // once its first batch of features is done (those sensors stay cached when it lists again).
      const result = await runDay(api, second, 'hive-001', print, async (workflowId) => {
        await firstBatchDone(api, workflowId);
        print('  a first batch of features is done; the late sensors land now');
        for (const id of warehouse.late) {
          const sensor = sensorIds(SENSORS).find((s) => s.id === id) as ReturnType<typeof sensorIds>[number];
          await landSensorDay(bigquery, config, join(config.DATA_DIR, 'sensor-demo'), {
            seed: SEED,
            sensor,
            date: second,
          });
          const joined = await api.request<{ workflowId: string; runId: string }>(
            'POST',
            '/pipelines/sensor-clustering/arrivals',
            { date: second, item: id },
          );
          print(
            `  ${id} landed → POST /pipelines/sensor-clustering/arrivals → run ${joined.body.runId.slice(0, 8)}`,
          );
        }
      });
      await printResults(bigquery, config, second, print);
      return result;
    });
  } finally {
    await app.close();
    await connection.close();
  }
}

/** A sensor of `date` arrived: the API joins or starts the day's run; follow it to the end. */
async function runDay(
  api: ApiClient,
  date: string,
  sensor: string,
  print: (line: string) => void,
  whileRunning?: (workflowId: string) => Promise<void>,
): Promise<{ workflowId: string; view: RunView }> {
  const { body } = await api.request<{ workflowId: string; runId: string }>(
    'POST',
    '/pipelines/sensor-clustering/arrivals',
    { date, item: sensor },
  );
  print(
    `\n${sensor} landed for ${date} → POST /pipelines/sensor-clustering/arrivals → ${body.workflowId} (run ${body.runId.slice(0, 8)})`,
  );
  const during = whileRunning?.(body.workflowId);
  const view = await follow(api, body.workflowId, print);
  await during;
  const inference = view.run.steps.find((step) => step.id === 'clustering_inference');
  const features = view.run.steps.find((step) => step.id === 'features')?.map;
  if (features)
    print(`  features (map, one item per sensor): ${features.succeeded} computed, ${features.cached} cached`);
  for (const partial of inference?.partials ?? [])
    print(`  partial inference on batch ${partial.batch} (${partial.items} sensors): ${partial.state}`);
  if (inference?.info) print(`  metrics stored with the run: ${JSON.stringify(inference.info)}`);
  return { workflowId: body.workflowId, view };
}

/** Waits until the day's run has finished a first batch of its features map (or has ended). */
async function firstBatchDone(api: ApiClient, workflowId: string): Promise<void> {
  const path = `/runs/${encodeURIComponent(workflowId)}`;
  for (;;) {
    const { body: view } = await api.request<RunView>('GET', path);
    const map = view.run.steps.find((step) => step.id === 'features')?.map;
    if (view.status !== 'RUNNING' || (map?.batches.finished ?? 0) >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function follow(api: ApiClient, workflowId: string, print: (line: string) => void): Promise<RunView> {
  const printer = new ProgressPrinter(print);
  const path = `/runs/${encodeURIComponent(workflowId)}`;
  for (;;) {
    const { body: view } = await api.request<RunView>('GET', path);
    printer.update(view);
    if (view.status !== 'RUNNING') {
      print(`  ${workflowId}: ${view.run.state}`);
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function printResults(bigquery: BigQuery, config: Config, date: string, print: (line: string) => void) {
  const rows = await createBigQueryActivities(bigquery, config).queryRows({
    sql: `SELECT cluster, model_version, COUNT(*) AS sensors, STRING_AGG(sensor_id, ' ' ORDER BY sensor_id) AS ids
      FROM \`${TABLES.results}\` WHERE date = '${date}' GROUP BY cluster, model_version ORDER BY cluster`,
  });
  print(`\nclusters of ${date} in ${TABLES.results}:`);
  for (const row of rows)
    print(`  cluster ${String(row.cluster)} (${String(row.model_version)}): ${String(row.ids)}`);
}

/** Readings of both days, the second without its late sensors. Once per DATA_DIR (a marker file). */
async function prepare(
  bigquery: BigQuery,
  config: Config,
  print: (line: string) => void,
): Promise<SensorWarehouse> {
  const marker = join(config.DATA_DIR, 'sensor-demo.json');
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as SensorWarehouse;
  const { readings } = generateReadings({ seed: SEED, sensors: SENSORS, start: DAYS[0], days: DAYS.length });
  const late = sensorIds(SENSORS)
    .slice(-LATE)
    .map((sensor) => sensor.id);
  const present = readings.filter((row) => !(row.date === DAYS[1] && late.includes(row.sensor_id)));
  const dir = join(config.DATA_DIR, 'sensor-demo');
  mkdirSync(dir, { recursive: true });
  const rows = await loadReadings(bigquery, config, dir, present);
  print(
    `loaded ${rows} synthetic readings of ${SENSORS} hive sensors into ${TABLES.readings} (${late.length} land late)`,
  );
  const warehouse = { days: DAYS, late };
  writeFileSync(marker, `${JSON.stringify(warehouse, null, 2)}\n`);
  return warehouse;
}

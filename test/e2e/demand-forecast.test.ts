import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createBigQueryActivities } from '../../activities/bigquery';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { loadConfig, type Config } from '../../config';
import { runDemo } from '../../scripts/demo/run-demo';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

const PIPELINE = 'demand-forecast';

describe('demand-forecast end to end: HTTP API, dev server, emulator, one sshd + tmux VM per cutoff', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  let config: Config;
  const dir = testTempDir('forecast-e2e');
  beforeAll(async () => {
    [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    Object.assign(process.env, { DATA_DIR: dir, REGISTRY_DIR: '', LOCAL_VM_ROOT: '', VM_PROVIDER: 'local' });
    config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: `forecast-${randomUUID()}`,
      BIGQUERY_PROJECT: bq.emulator.projectId,
      BIGQUERY_API_ENDPOINT: bq.emulator.apiEndpoint,
      API_TOKENS: 'e2e:admin:e2e-token',
    });
  });
  afterAll(async () => {
    const provider = new LocalVmProvider({
      root: join(dir, 'vms'),
      imagesDir: join(projectRoot, 'machine-images'),
    });
    for (const vm of await provider.list()) await provider.stop(vm.name);
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  it('lists the pipeline and rejects a bad environment or only_last at start, naming the field', async () => {
    const app = await createApp(config);
    await app.init();
    try {
      const http = app.getHttpServer() as App;
      const auth = { Authorization: 'Bearer e2e-token' };
      expect(JSON.stringify((await request(http).get('/pipelines').set(auth).expect(200)).body)).toContain(
        PIPELINE,
      );
      for (const [params, field] of [
        [{ environment: 'staging' }, 'environment'],
        [{ environment: '../prod' }, 'environment'],
        [{ only_last: 'sometimes' }, 'only_last'],
      ] as const) {
        const response = await request(http)
          .post('/runs')
          .set(auth)
          .send({ pipeline: PIPELINE, params })
          .expect(400);
        expect(JSON.stringify(response.body)).toContain(`parameter ${field}`);
      }
    } finally {
      await app.close();
    }
  });

  it('trains every cutoff on its own VM with the dev configuration and writes each cutoff’s forecasts', async () => {
    const { view, facts } = await runDemo({
      config,
      bigquery: bq.bigquery,
      connection: env.nativeConnection,
      pipeline: PIPELINE,
      print: () => undefined,
    });
    expect(view.run.state).toBe('succeeded');
    const cutoffs = facts.cutoffs as string[];
    expect(cutoffs).toHaveLength(3);
    const train = view.run.steps.find((step) => step.id === 'train');
    expect(train?.map).toMatchObject({ total: 3, succeeded: 3, failed: 0 });

    // Forecasts went to the dev output dataset, per cutoff: every active item, 8 weeks after its cutoff.
    const warehouse = createBigQueryActivities(bq.bigquery, bq.config);
    const rows = await warehouse.queryRows({
      sql: `SELECT CAST(cutoff AS STRING) AS cutoff, COUNT(DISTINCT item_id) AS items, COUNT(*) AS n,
              MIN(DATE_DIFF(week, cutoff, DAY)) AS first_day, MAX(horizon) AS horizon,
              COUNT(DISTINCT model_version) AS versions, MIN(forecast) AS low
            FROM \`forecast_dev.forecasts\` GROUP BY cutoff ORDER BY cutoff`,
    });
    expect(rows.map((row) => row.cutoff)).toEqual(cutoffs);
    for (const row of rows) {
      // Three items sell (dev extract); the discontinued one gets no forecast.
      expect(row).toMatchObject({ items: 3, n: 24, first_day: 7, horizon: 8, versions: 1 });
      expect(Number(row.low)).toBeGreaterThanOrEqual(0);
    }
    // Nothing was written for prod.
    expect(
      (await warehouse.describeTable({ table: { dataset: 'forecast', table: 'forecasts' } })).exists,
    ).toBe(false);
    // Three cutoffs, each trained by a job on a VM of its own (with the Holt-Winters program): over a
    // minute on 2 cores, more on a machine shared with other suites.
  }, 400_000);
});

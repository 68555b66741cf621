import { ApplicationFailure } from '@temporalio/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import type { KindDeps } from '../../activities/kinds/common';
import {
  commitForecasts,
  publishForecasts,
  type CutoffForecasts,
} from '../../pipelines/demand-forecast/kinds/forecasts-table';
import { FORECASTS_SCHEMA } from '../../pipelines/demand-forecast/schema';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

const DATASET = 'forecast_atomic';
const labels = { run_id: 'demand-forecast/atomic', pipeline: 'demand-forecast', step: 'publish' };

/** Two items, two weeks ahead, every value tagged with the model version that made it. */
const forecastsOf = (cutoff: string, version: string, value: number): CutoffForecasts => ({
  cutoff,
  dataset: DATASET,
  model_version: version,
  forecasts: ['sku-1', 'sku-2'].flatMap((item_id) =>
    [1, 2].map((horizon) => ({
      item_id,
      week: new Date(Date.parse(cutoff) + horizon * 7 * 86_400_000).toISOString().slice(0, 10),
      horizon,
      forecast: value,
    })),
  ),
});

describe('demand-forecast publish on the BigQuery emulator: all cutoffs or none', () => {
  let bq: BigQueryHarness;
  let deps: KindDeps;
  beforeAll(async () => {
    bq = await startBigQueryHarness();
    deps = { bigquery: bq.bigquery, config: bq.config, registryDir: '', workDir: testTempDir('publish') };
  }, 120_000);
  afterAll(async () => {
    await bq?.stop();
  });

  const published = async () =>
    (
      await createBigQueryActivities(bq.bigquery, bq.config).queryRows({
        sql: `SELECT CAST(cutoff AS STRING) AS cutoff, model_version, COUNT(*) AS n, SUM(forecast) AS total
              FROM \`${DATASET}.forecasts\` GROUP BY cutoff, model_version ORDER BY cutoff`,
      })
    ).map((row) => ({
      cutoff: String(row.cutoff),
      model_version: String(row.model_version),
      n: Number(row.n),
      total: Number(row.total),
    }));
  const stagingLeft = async () =>
    (await bq.bigquery.dataset('smc_demand_forecast').getTables())[0].filter((table) =>
      table.id?.startsWith('publish_'),
    ).length;
  const errorOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  it('replaces each cutoff’s rows, and leaves the previous forecasts of every cutoff when one fails', async () => {
    await publishForecasts(deps, labels, [
      forecastsOf('2026-06-29', 'v1', 1),
      forecastsOf('2026-09-28', 'v1', 1),
    ]);
    const before = [
      { cutoff: '2026-06-29', model_version: 'v1', n: 4, total: 4 },
      { cutoff: '2026-09-28', model_version: 'v1', n: 4, total: 4 },
    ];
    expect(await published()).toEqual(before);

    // A new publish of both cutoffs whose second model wrote a bad row (a week that is no date): the
    // first cutoff is not replaced either.
    const bad = forecastsOf('2026-09-28', 'v2', 2);
    (bad.forecasts[1] as { week: string }).week = "2026-13-45'; DROP TABLE forecasts; --";
    const error = await errorOf(publishForecasts(deps, labels, [forecastsOf('2026-06-29', 'v2', 2), bad]));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(await published()).toEqual(before);
    expect(await stagingLeft()).toBe(0);

    // The same publish without the bad row replaces both, once (no duplicates of the earlier rows).
    await publishForecasts(deps, labels, [
      forecastsOf('2026-06-29', 'v2', 2),
      forecastsOf('2026-09-28', 'v2', 2),
    ]);
    expect(await published()).toEqual([
      { cutoff: '2026-06-29', model_version: 'v2', n: 4, total: 8 },
      { cutoff: '2026-09-28', model_version: 'v2', n: 4, total: 8 },
    ]);
    expect(await stagingLeft()).toBe(0);
  }, 180_000);

  it('rolls back a transaction that fails after it has replaced a cutoff', async () => {
    const staged = await publishForecasts(deps, labels, [forecastsOf('2026-12-28', 'v1', 3)]);
    const before = await published();
    // The first cutoff is staged for real; the second's staging table is gone when the transaction
    // reaches it, after the first cutoff's DELETE and INSERT have run.
    const warehouse = createBigQueryActivities(bq.bigquery, bq.config);
    await warehouse.ensureScratchDataset({ pipeline: 'demand-forecast' });
    const file = join(deps.workDir, 'one.ndjson');
    mkdirSync(deps.workDir, { recursive: true });
    writeFileSync(
      file,
      forecastsOf('2026-06-29', 'v3', 5)
        .forecasts.map((row) =>
          JSON.stringify({ cutoff: '2026-06-29', ...row, model_version: 'v3', run_id: 'x' }),
        )
        .join('\n') + '\n',
    );
    await warehouse.loadFromFile({
      path: file,
      table: { dataset: 'smc_demand_forecast', table: 'publish_manual' },
      schema: FORECASTS_SCHEMA,
      writeDisposition: 'WRITE_TRUNCATE',
      labels,
    });
    const error = await errorOf(
      commitForecasts(deps, [
        { cutoff: '2026-06-29', dataset: DATASET, staging: 'smc_demand_forecast.publish_manual', rows: 4 },
        { cutoff: '2026-12-28', dataset: DATASET, staging: 'smc_demand_forecast.publish_gone', rows: 4 },
      ]),
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).message).toContain('2026-12-28');
    expect(await published()).toEqual(before);
    expect(before.map((row) => row.cutoff)).toEqual(['2026-06-29', '2026-09-28', '2026-12-28']);
    expect(staged.map((entry) => entry.rows)).toEqual([4]);
  }, 180_000);
});

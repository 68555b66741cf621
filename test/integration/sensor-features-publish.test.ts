import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import type { KindDeps } from '../../activities/kinds/common';
import { featuresPublished, publishFeatures } from '../../pipelines/sensor-clustering/kinds/features';
import { FEATURE_NAMES } from '../../pipelines/sensor-clustering/schema';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

const FEATURES = 'sensors_production.sensor_features';
const DAY = '2026-11-30';

/**
 * The sensor_feature item's publish on the BigQuery emulator: (date, sensor)'s row of the production
 * features table is replaced in one statement, so a failed publish leaves the previous row and
 * concurrent items each land exactly once.
 */
describe('sensor features publish: one row per sensor-day, replaced all or nothing', () => {
  let bq: BigQueryHarness;
  let deps: KindDeps;
  beforeAll(async () => {
    bq = await startBigQueryHarness();
    deps = { bigquery: bq.bigquery, config: bq.config, registryDir: '', workDir: testTempDir('features') };
    await bq.bigquery.dataset('smc_sensor_clustering').get({ autoCreate: true });
  }, 120_000);
  afterAll(async () => {
    await bq?.stop();
  });

  const warehouse = () => createBigQueryActivities(bq.bigquery, bq.config);
  /** A scratch table as a feature item leaves it: one row of (date, sensor) with every feature = value. */
  const scratch = async (name: string, date: string, sensor: string, value: number) => {
    const features = FEATURE_NAMES.map((feature) => `${value} AS ${feature}`).join(', ');
    await warehouse().runStatement({
      sql: `CREATE OR REPLACE TABLE \`smc_sensor_clustering.${name}\` AS
        SELECT DATE '${date}' AS date, '${sensor}' AS sensor_id, 24 AS \`rows\`, ${features}`,
    });
    return `smc_sensor_clustering.${name}`;
  };
  const published = async () =>
    (
      await warehouse().queryRows({
        sql: `SELECT CAST(date AS STRING) AS date, sensor_id, temp_mean FROM \`${FEATURES}\`
              ORDER BY date, sensor_id`,
      })
    ).map((row) => `${String(row.date)} ${String(row.sensor_id)} ${Number(row.temp_mean)}`);

  it('replaces only its own sensor-day, and a failed publish leaves the previous row', async () => {
    await publishFeatures(deps, FEATURES, DAY, 'sensor-a', await scratch('a1', DAY, 'sensor-a', 1));
    await publishFeatures(deps, FEATURES, DAY, 'sensor-b', await scratch('b1', DAY, 'sensor-b', 1));
    await publishFeatures(
      deps,
      FEATURES,
      '2026-11-29',
      'sensor-a',
      await scratch('a0', '2026-11-29', 'sensor-a', 7),
    );
    await publishFeatures(deps, FEATURES, DAY, 'sensor-a', await scratch('a2', DAY, 'sensor-a', 2));
    expect(await published()).toEqual(['2026-11-29 sensor-a 7', `${DAY} sensor-a 2`, `${DAY} sensor-b 1`]);

    // The scratch table is gone (expired, deleted by a cleanup) when the publish runs: the error says
    // what was being published, and the sensor keeps its previous row (a DELETE then INSERT lost it).
    await expect(
      publishFeatures(deps, FEATURES, DAY, 'sensor-a', 'smc_sensor_clustering.gone'),
    ).rejects.toThrow(/publish sensor-a 2026-11-30 into sensors_production\.sensor_features/);
    expect(await published()).toContain(`${DAY} sensor-a 2`);
    expect(await featuresPublished(deps, FEATURES, DAY, 'sensor-a')).toBe(true);
  }, 120_000);

  it('lands each of ten sensors published at once exactly once', async () => {
    const sensors = Array.from({ length: 10 }, (_, index) => `sensor-c${index}`);
    const tables = await Promise.all(
      sensors.map((sensor, index) => scratch(`c${index}`, DAY, sensor, index)),
    );
    // Twice each, concurrently: a replace, never a second row.
    await Promise.all(
      [...sensors, ...sensors].map((sensor, index) =>
        publishFeatures(deps, FEATURES, DAY, sensor, tables[index % sensors.length] ?? ''),
      ),
    );
    const rows = (await published()).filter((row) => row.includes('sensor-c'));
    expect(rows).toEqual(sensors.map((sensor, index) => `${DAY} ${sensor} ${index}`));
  }, 120_000);
});

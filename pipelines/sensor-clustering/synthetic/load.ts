import type { BigQuery } from '@google-cloud/bigquery';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createBigQueryActivities,
  dateParam,
  type BigQueryActivitiesConfig,
} from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { parseTableName } from '../../../activities/bigquery/steps';
import { READINGS_SCHEMA, TABLES } from '../schema';
import { sensorDay, type Profile, type SensorReading } from './generate';

const labels = { run_id: 'synthetic', pipeline: 'synthetic-data', step: 'load' };
const ndjson = (rows: SensorReading[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

/** Replaces the readings table with these readings (the demo's and tests' starting warehouse). */
export async function loadReadings(
  bigquery: BigQuery,
  config: BigQueryActivitiesConfig,
  dir: string,
  readings: SensorReading[],
  table: string = TABLES.readings,
): Promise<number> {
  const ref = parseTableName(table);
  await bigquery.dataset(ref.dataset).get({ autoCreate: true });
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'readings.ndjson');
  writeFileSync(path, ndjson(readings));
  const loaded = await createBigQueryActivities(bigquery, config).loadFromFile({
    path,
    table: ref,
    schema: READINGS_SCHEMA.map((field) => ({ ...field })),
    labels,
  });
  return loaded.rows;
}

/**
 * A sensor's readings for a day land: its (date, sensor_id) partition of the readings table is
 * replaced, as a file at `<date>/<sensor_id>` in the bucket layout would be. `shift` changes the
 * readings (a corrected file), 0 regenerates the same ones.
 */
export async function landSensorDay(
  bigquery: BigQuery,
  config: BigQueryActivitiesConfig,
  dir: string,
  input: { seed: number; sensor: { id: string; profile: Profile }; date: string; shift?: number },
  table: string = TABLES.readings,
): Promise<number> {
  const ref = parseTableName(table);
  const warehouse = createBigQueryActivities(bigquery, config);
  await bigquery.dataset(ref.dataset).get({ autoCreate: true });
  const [exists] = await bigquery.dataset(ref.dataset).table(ref.table).exists();
  if (exists) {
    await warehouse.runStatement({
      sql: `DELETE FROM ${tableSql(ref, config.BIGQUERY_PROJECT)} WHERE date = @date AND sensor_id = @sensor`,
      params: { date: dateParam(input.date), sensor: input.sensor.id },
      what: `replace ${input.sensor.id} on ${input.date}`,
    });
  }
  const rows = sensorDay(input.seed, input.sensor, input.date).map((row) => ({
    ...row,
    temperature: Math.round((row.temperature + (input.shift ?? 0)) * 1000) / 1000,
  }));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${input.date}-${input.sensor.id}.ndjson`);
  writeFileSync(path, ndjson(rows));
  const loaded = await warehouse.loadFromFile({
    path,
    table: ref,
    schema: READINGS_SCHEMA.map((field) => ({ ...field })),
    labels,
    writeDisposition: 'WRITE_APPEND',
  });
  return loaded.rows;
}

import type { BigQuery } from '@google-cloud/bigquery';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBigQueryActivities, type BigQueryActivitiesConfig } from '../../../activities/bigquery';
import { RECORDS_SCHEMA, RECORDS_TABLE, SOURCE_DATASET } from '../schema';
import { generateHousing, lastLoadDay, type HousingOptions } from './generate';

export interface HousingWarehouse {
  dataset: string;
  records: number;
  /** A cutoff that ingests every record. */
  cutoff: string;
}

/**
 * Loads synthetic staging records into `<dataset>.records` (the emulator or real BigQuery) through
 * the pipeline's own warehouse activities: NDJSON under `dir`, then a load job with the schema.
 */
export async function loadHousing(input: {
  bigquery: BigQuery;
  config: BigQueryActivitiesConfig;
  dir: string;
  dataset?: string;
  options?: Partial<HousingOptions>;
}): Promise<HousingWarehouse> {
  const dataset = input.dataset ?? SOURCE_DATASET;
  const records = generateHousing(input.options);
  mkdirSync(input.dir, { recursive: true });
  const path = join(input.dir, `${dataset}.${RECORDS_TABLE}.ndjson`);
  writeFileSync(path, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
  await input.bigquery.dataset(dataset).get({ autoCreate: true });
  const loaded = await createBigQueryActivities(input.bigquery, input.config).loadFromFile({
    path,
    table: { dataset, table: RECORDS_TABLE },
    schema: RECORDS_SCHEMA,
    labels: { run_id: 'synthetic', pipeline: 'synthetic-data', step: 'load' },
  });
  return { dataset, records: loaded.rows, cutoff: lastLoadDay(input.options) };
}

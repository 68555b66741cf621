import type { BigQuery } from '@google-cloud/bigquery';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBigQueryActivities, type BigQueryActivitiesConfig } from '../../../activities/bigquery';
import devConfig from '../config/dev.json';
import prodConfig from '../config/prod.json';
import { CUTOFFS_SCHEMA, CUTOFFS_TABLE, SALES_SCHEMA, SALES_TABLE } from '../schema';
import { generateDemand, type DemandOptions } from './generate';

export interface DemandWarehouse {
  /** Input dataset → loaded sales rows. */
  loaded: Record<string, number>;
  cutoffs: string[];
  /** A run cutoff that sees every refinement cutoff. */
  cutoff: string;
}

const labels = { run_id: 'synthetic', pipeline: 'synthetic-data', step: 'load' };

/**
 * Loads synthetic refined sales and refinement cutoffs into the input dataset of each environment
 * (dev: fewer items than prod, as a dev extract would have), through the pipeline's warehouse
 * activities. The same cutoffs in both, so dev and prod runs train the same cutoffs.
 */
export async function loadDemand(input: {
  bigquery: BigQuery;
  config: BigQueryActivitiesConfig;
  dir: string;
  options?: Partial<DemandOptions>;
  /** Items per environment (default dev 3, prod 5). */
  items?: { dev?: number; prod?: number };
}): Promise<DemandWarehouse> {
  const warehouse = createBigQueryActivities(input.bigquery, input.config);
  mkdirSync(input.dir, { recursive: true });
  const loaded: Record<string, number> = {};
  let data = generateDemand(input.options);
  for (const [dataset, items] of [
    [devConfig.input_dataset, input.items?.dev ?? 3],
    [prodConfig.input_dataset, input.items?.prod ?? 5],
  ] as const) {
    data = generateDemand({ ...input.options, items });
    await input.bigquery.dataset(dataset).get({ autoCreate: true });
    for (const [table, rows, schema] of [
      [SALES_TABLE, data.sales, SALES_SCHEMA],
      [CUTOFFS_TABLE, data.cutoffs, CUTOFFS_SCHEMA],
    ] as const) {
      const path = join(input.dir, `${dataset}.${table}.ndjson`);
      writeFileSync(path, (rows as object[]).map((row) => JSON.stringify(row)).join('\n') + '\n');
      const result = await warehouse.loadFromFile({ path, table: { dataset, table }, schema, labels });
      if (table === SALES_TABLE) loaded[dataset] = result.rows;
    }
  }
  return { loaded, cutoffs: data.cutoffs.map((c) => c.cutoff), cutoff: data.lastWeek };
}

import type { BigQuery } from '@google-cloud/bigquery';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createBigQueryActivities, type BigQueryActivitiesConfig } from '../../../activities/bigquery';
import { createRegistryActivities, type RegistryOptions } from '../../../activities/registry';
import type { SyntheticData } from './generate';
import type { PreviousQuarter } from './previous-quarter';
import { DATASETS, PRODUCTION_TABLES, SOURCE_TABLES, type Row } from '../schema';

const labels = { run_id: 'synthetic', pipeline: 'synthetic-data', step: 'load' };

async function writeNdjson(path: string, rows: Row[]): Promise<void> {
  const out = createWriteStream(path);
  for (const row of rows) {
    if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

/**
 * Loads generated tables into BigQuery (the emulator or the real one) through the same client and
 * activities the pipeline uses: NDJSON files under `dir`, then load jobs with explicit schemas,
 * replacing what was there. Returns the loaded row count of every table.
 */
export async function loadSynthetic(
  bigquery: BigQuery,
  config: BigQueryActivitiesConfig,
  dir: string,
  data: SyntheticData,
  previous?: PreviousQuarter,
): Promise<Record<string, number>> {
  const activities = createBigQueryActivities(bigquery, config);
  mkdirSync(dir, { recursive: true });
  const counts: Record<string, number> = {};
  const groups = [
    {
      dataset: DATASETS.source,
      schemas: SOURCE_TABLES as Record<string, unknown>,
      rows: data.tables as Record<string, Row[]>,
    },
    ...(previous
      ? [
          {
            dataset: DATASETS.production,
            schemas: PRODUCTION_TABLES as Record<string, unknown>,
            rows: previous.tables as Record<string, Row[]>,
          },
        ]
      : []),
  ];
  for (const group of groups) {
    await bigquery.dataset(group.dataset).get({ autoCreate: true });
    for (const [table, schema] of Object.entries(group.schemas)) {
      const path = join(dir, `${group.dataset}.${table}.ndjson`);
      await writeNdjson(path, group.rows[table] ?? []);
      const result = await activities.loadFromFile({
        path,
        table: { dataset: group.dataset, table },
        schema: schema as { name: string; type: string }[],
        labels,
      });
      counts[`${group.dataset}.${table}`] = result.rows;
    }
  }
  return counts;
}

/** Publishes the previous quarter's four models in the registry and points `production` at them. */
export async function registerPreviousModels(
  registryLocation: string,
  dir: string,
  previous: PreviousQuarter,
  options: RegistryOptions = {},
): Promise<string[]> {
  const registry = createRegistryActivities(registryLocation, options);
  const published: string[] = [];
  for (const [model, file] of Object.entries(previous.models)) {
    const path = join(dir, model, 'model.json');
    mkdirSync(join(dir, model), { recursive: true });
    writeFileSync(path, `${JSON.stringify(file)}\n`);
    await registry.registerModelVersion({
      model,
      version: previous.version,
      files: [path],
      metrics: {},
      lineage: { runId: 'synthetic-previous-quarter', commit: 'synthetic', cutoff: previous.cutoff },
    });
    await registry.setModelAlias({ model, version: previous.version });
    published.push(`${model}/${previous.version}`);
  }
  return published;
}

/**
 * Generates the visits-scaling warehouse (source tables, the previous quarter's production tables)
 * and loads it into BigQuery (BIGQUERY_API_ENDPOINT: the local emulator, or real BigQuery), then
 * publishes the previous quarter's models in the registry with the `production` alias.
 *
 *   tsx scripts/generate-data.ts [--seed 42] [--areas 78 | --areas 0,11,22] [--pois-per-area 4]
 *                                [--days 182] [--start 2026-01-01] [--files-only]
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config';
import { createBigQueryClient } from '../activities/clients';
import { modelRegistryLocation } from '../activities/registry';
import { defaultSyntheticOptions, generateSynthetic } from '../pipelines/visits-scaling/synthetic/generate';
import { previousQuarter } from '../pipelines/visits-scaling/synthetic/previous-quarter';
import { loadSynthetic, registerPreviousModels } from '../pipelines/visits-scaling/synthetic/load';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(defaultSyntheticOptions.seed) },
      areas: { type: 'string', default: '78' },
      'pois-per-area': { type: 'string', default: String(defaultSyntheticOptions.poisPerArea) },
      days: { type: 'string', default: String(defaultSyntheticOptions.days) },
      start: { type: 'string', default: defaultSyntheticOptions.start },
      'files-only': { type: 'boolean', default: false },
    },
  });
  const areas = values.areas.includes(',')
    ? values.areas.split(',').map(Number)
    : Array.from({ length: Number(values.areas) }, (_, i) => i);
  if (areas.some((a) => !Number.isInteger(a) || a < 0 || a > 77))
    throw new Error('--areas: ids must be 0–77');
  const config = loadConfig();
  const data = generateSynthetic({
    seed: Number(values.seed),
    metAreas: areas,
    poisPerArea: Number(values['pois-per-area']),
    days: Number(values.days),
    start: values.start,
  });
  const previous = previousQuarter(data);
  const dir = resolve(config.DATA_DIR, 'synthetic', `seed-${data.options.seed}`);
  console.log(
    `generated ${data.options.start}…${data.end} for ${areas.length} areas; previous cutoff ${previous.cutoff}`,
  );
  if (values['files-only']) {
    console.log(`files only: nothing loaded (${dir})`);
    return;
  }
  const counts = await loadSynthetic(createBigQueryClient(config), config, dir, data, previous);
  for (const [table, rows] of Object.entries(counts)) console.log(`  ${table}: ${rows} rows`);
  const registry = modelRegistryLocation(config);
  const published = await registerPreviousModels(registry, join(dir, 'models'), previous, {
    apiEndpoint: config.GCS_API_ENDPOINT,
  });
  console.log(`registry ${registry}: production → ${published.join(', ')}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

import type { BigQuery } from '@google-cloud/bigquery';
import { join } from 'node:path';
import type { BigQueryActivitiesConfig } from '../../../activities/bigquery';
import { addDays } from '../../core/dates';
import { generateSynthetic, type SyntheticOptions } from './generate';
import { previousQuarter } from './previous-quarter';
import { loadSynthetic, registerPreviousModels } from './load';
import type { RegistryOptions } from '../../../activities/registry';

export interface LocalWarehouse {
  /** First and last day of the synthetic data. */
  start: string;
  end: string;
  /** The previous quarter's cutoff and model version (what production holds before a run). */
  previousCutoff: string;
  previousVersion: string;
  /** A cutoff that leaves a gap of `gapDays` for the gap fill to close. */
  cutoff: string;
  /** Row counts of the loaded tables. */
  tables: Record<string, number>;
}

/**
 * Prepares a warehouse for the visits-scaling pipeline: synthetic source tables, the previous
 * quarter's production tables, and its four models in the registry with the `production` alias (so
 * a first run has champions to beat). For the demo, the API's local mode and tests.
 *
 * The worker then needs `createActivities({ bigquery })` from workers/worker.ts with the same
 * client, and REGISTRY_DIR (or DATA_DIR) pointing at the same registry; VMs come from VM_PROVIDER
 * (`local` by default, LOCAL_VM_ROOT). Run the pipeline with `cutoff` (or let a schedule set it).
 */
export async function prepareVisitsScalingWarehouse(input: {
  bigquery: BigQuery;
  config: BigQueryActivitiesConfig;
  /** The model registry: a folder, or `gs://bucket/prefix` (then `registryOptions.apiEndpoint`). */
  registryDir: string;
  registryOptions?: RegistryOptions;
  /** Where the NDJSON files and the previous models are written before loading. */
  dir: string;
  synthetic?: Partial<SyntheticOptions>;
  gapDays?: number;
}): Promise<LocalWarehouse> {
  const data = generateSynthetic(input.synthetic ?? {});
  const previous = previousQuarter(data);
  const tables = await loadSynthetic(input.bigquery, input.config, join(input.dir, 'data'), data, previous);
  await registerPreviousModels(input.registryDir, join(input.dir, 'models'), previous, input.registryOptions);
  return {
    start: data.options.start,
    end: data.end,
    previousCutoff: previous.cutoff,
    previousVersion: previous.version,
    cutoff: addDays(data.end, -(input.gapDays ?? 14)),
    tables,
  };
}

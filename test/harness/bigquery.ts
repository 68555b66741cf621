import { randomUUID } from 'node:crypto';
import type { BigQuery } from '@google-cloud/bigquery';
import type { BigQueryActivitiesConfig } from '../../activities/bigquery';
import { createBigQueryClient } from '../../activities/clients';
import { startBigQueryEmulator, type BigQueryEmulator } from '../../scripts/stack/bigquery-emulator';
import { testLogFile } from './paths';

export interface BigQueryHarness {
  emulator: BigQueryEmulator;
  /** The real `@google-cloud/bigquery` client, pointed at the emulator, without credentials. */
  bigquery: BigQuery;
  /** The warehouse activities' config on the emulator: `smc_` scratch datasets expiring after 30 days. */
  config: BigQueryActivitiesConfig;
  stop(): Promise<void>;
}

/** Starts a BigQuery emulator of this suite's own on free ports, with a client on it. */
export async function startBigQueryHarness(
  projectId = `test-${randomUUID().slice(0, 8)}`,
): Promise<BigQueryHarness> {
  const emulator = await startBigQueryEmulator({
    projectId,
    logFile: testLogFile(`bqemulator-${projectId}.log`),
  });
  const bigquery = createBigQueryClient({
    BIGQUERY_PROJECT: projectId,
    BIGQUERY_API_ENDPOINT: emulator.apiEndpoint,
    BIGQUERY_LOCATION: 'US',
  });
  const config: BigQueryActivitiesConfig = {
    BIGQUERY_PROJECT: projectId,
    BIGQUERY_LOCATION: 'US',
    SCRATCH_DATASET_PREFIX: 'smc_',
    SCRATCH_EXPIRATION_DAYS: 30,
  };
  return { emulator, bigquery, config, stop: () => emulator.stop() };
}

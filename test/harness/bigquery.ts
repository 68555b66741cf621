import { randomUUID } from 'node:crypto';
import type { BigQuery } from '@google-cloud/bigquery';
import { createBigQueryClient } from '../../activities/clients';
import { startBigQueryEmulator, type BigQueryEmulator } from '../../scripts/stack/bigquery-emulator';
import { testLogFile } from './paths';

export interface BigQueryHarness {
  emulator: BigQueryEmulator;
  /** The real `@google-cloud/bigquery` client, pointed at the emulator, without credentials. */
  bigquery: BigQuery;
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
  return { emulator, bigquery, stop: () => emulator.stop() };
}

import { BigQuery } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import type { Config } from '../config';

/**
 * The BigQuery client the worker builds once. With `BIGQUERY_API_ENDPOINT` set (the local emulator)
 * no credentials are looked up; otherwise Application Default Credentials are used as usual.
 */
export function createBigQueryClient(
  config: Pick<Config, 'BIGQUERY_PROJECT' | 'BIGQUERY_API_ENDPOINT' | 'BIGQUERY_LOCATION'>,
): BigQuery {
  if (!config.BIGQUERY_API_ENDPOINT) {
    return new BigQuery({ projectId: config.BIGQUERY_PROJECT, location: config.BIGQUERY_LOCATION });
  }
  return new BigQuery({
    projectId: config.BIGQUERY_PROJECT,
    apiEndpoint: config.BIGQUERY_API_ENDPOINT,
    location: config.BIGQUERY_LOCATION,
    authClient: new PassThroughClient(),
  });
}

import type { BigQuery, Query } from '@google-cloud/bigquery';

/**
 * Runs a query as a job and waits for its rows. Always a job, never `bigquery.query()`: on the
 * emulator, `jobs.query` answers a failed query with zero rows instead of an error, and a job is
 * what real BigQuery runs anyway.
 */
export async function runQueryJob(
  bigquery: BigQuery,
  query: string | Query,
): Promise<Record<string, unknown>[]> {
  const [job] = await bigquery.createQueryJob(typeof query === 'string' ? { query } : query);
  const [rows] = await job.getQueryResults();
  return rows as Record<string, unknown>[];
}

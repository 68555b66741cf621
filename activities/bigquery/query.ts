import type { BigQuery, Query } from '@google-cloud/bigquery';
import { BigQueryErrorType, bigQueryFailure } from './errors';

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

/** Scalar types a query parameter can be declared with when its JSON value alone is ambiguous. */
export type QueryParamType = 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'DATE' | 'TIMESTAMP' | 'NUMERIC';

/**
 * A query parameter as it travels through workflow history (plain JSON). Numbers, strings and
 * booleans are typed by their JSON type (integers as INT64); dates and timestamps say so.
 */
export type QueryParamValue =
  | string
  | number
  | boolean
  | { type: QueryParamType; value: string | number | boolean | null }
  | (string | number | boolean)[];

export type QueryParams = Record<string, QueryParamValue>;

const paramName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Converts JSON parameters into the client's `params` and `types`; values never touch the SQL text. */
export function toClientParams(
  bigquery: BigQuery,
  params: QueryParams = {},
): { params: Record<string, unknown>; types: Record<string, string | string[]> } {
  const out: Record<string, unknown> = {};
  const types: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!paramName.test(name)) {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `invalid query parameter name ${JSON.stringify(name)}`,
      );
    }
    if (Array.isArray(value)) {
      if (value.length === 0) {
        throw bigQueryFailure(
          BigQueryErrorType.INVALID_REQUEST,
          `query parameter @${name} is an empty array`,
        );
      }
      out[name] = value;
    } else if (value !== null && typeof value === 'object') {
      types[name] = value.type;
      if (value.value === null) out[name] = null;
      else if (value.type === 'DATE') out[name] = bigquery.date(String(value.value));
      else if (value.type === 'TIMESTAMP') out[name] = bigquery.timestamp(String(value.value));
      else out[name] = value.value;
    } else {
      out[name] = value;
    }
  }
  return { params: out, types };
}

/** A DATE parameter (`{ cutoff: dateParam('2026-09-30') }`). */
export const dateParam = (value: string): QueryParamValue => ({ type: 'DATE', value });

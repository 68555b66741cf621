import type { BigQuery } from '@google-cloud/bigquery';
import type { Config } from '../../config';

/** The configuration the warehouse activities read. */
export type BigQueryActivitiesConfig = Pick<
  Config,
  'BIGQUERY_PROJECT' | 'BIGQUERY_LOCATION' | 'SCRATCH_DATASET_PREFIX' | 'SCRATCH_EXPIRATION_DAYS'
>;

/** What every warehouse module closes over: the worker's one client and its configuration. */
export interface BigQueryContext {
  bigquery: BigQuery;
  config: BigQueryActivitiesConfig;
}

/** Labels every table a run creates carries (`run_id`, `pipeline`, `step`). */
export type RunLabels = {
  run_id: string;
  pipeline: string;
  step: string;
};

export const dayMs = 86_400_000;

import { BigQueryErrorType, bigQueryFailure } from './errors';

/** A table, fully named. `project` defaults to the client's project. */
export interface TableRef {
  project?: string;
  dataset: string;
  table: string;
}

// Stricter than BigQuery (which also allows dashes and Unicode letters in table names): every name we
// splice into SQL matches one of these, so no quoting trick can break out of the backticks.
const patterns = {
  project: /^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
  dataset: /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/,
  table: /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/,
} as const;

/** Fails with a non-retryable INVALID_IDENTIFIER naming the offending value. */
export function checkIdentifier(kind: keyof typeof patterns, value: string): string {
  if (typeof value !== 'string' || !patterns[kind].test(value)) {
    throw bigQueryFailure(
      BigQueryErrorType.INVALID_IDENTIFIER,
      `invalid ${kind} name ${JSON.stringify(value)}: expected ${patterns[kind].source}`,
    );
  }
  return value;
}

/** Validates every part of a table reference and fills in the project. */
export function resolveTable(ref: TableRef, defaultProject: string): Required<TableRef> {
  return {
    project: checkIdentifier('project', ref.project ?? defaultProject),
    dataset: checkIdentifier('dataset', ref.dataset),
    table: checkIdentifier('table', ref.table),
  };
}

/** `project.dataset.table` in backticks, for SQL; validated first. */
export function tableSql(ref: TableRef, defaultProject: string): string {
  const table = resolveTable(ref, defaultProject);
  return `\`${table.project}.${table.dataset}.${table.table}\``;
}

/** `dataset.table`, or `project:dataset.table` when in another project than the client's, for messages. */
export function tableName(ref: TableRef, defaultProject?: string): string {
  const other = ref.project && ref.project !== defaultProject;
  return `${other ? `${ref.project}:` : ''}${ref.dataset}.${ref.table}`;
}

/**
 * The table a step writes, named from its cache key (`quality_data_3f9a1c2e`), the same form as the
 * plan's output names (activities/plan.ts `outputNames`; output `table` gets no suffix): a changed query
 * or parameter yields a new name, so "the table exists" means "this exact computation was done", and
 * a table left by an older run with another configuration is never mistaken for this one's output.
 */
export function cacheKeyTableName(step: string, cacheKey: string, output?: string): string {
  const key = cacheKey.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(key)) {
    throw bigQueryFailure(
      BigQueryErrorType.INVALID_IDENTIFIER,
      `cache key ${JSON.stringify(cacheKey)} is not hex`,
    );
  }
  const base = [step, output === 'table' ? undefined : output]
    .filter(Boolean)
    .join('_')
    .replace(/[^A-Za-z0-9_]+/g, '_');
  return checkIdentifier('table', `${base}_${key.slice(0, 8)}`);
}

/** The scratch dataset of a pipeline (`smc_visits_scaling`). */
export function scratchDatasetName(prefix: string, pipeline: string): string {
  return checkIdentifier('dataset', `${prefix}${pipeline.replace(/[^A-Za-z0-9_]+/g, '_')}`);
}

/**
 * BigQuery label values allow only lowercase letters, digits, `_` and `-`, at most 63 characters:
 * `visits-scaling/2026-Q4` becomes `visits-scaling_2026-q4`. Labels are for people browsing the
 * console; the run's own record of its tables is what cleanup trusts.
 */
export function labelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);
}

import { ApplicationFailure, TemporalFailure } from '@temporalio/common';

/**
 * Failure types of the warehouse activities. A retry policy or an operator reads these names; the
 * non-retryable ones are errors a retry cannot fix (the query, the name or the data must change).
 */
export enum BigQueryErrorType {
  BAD_SQL = 'BigQueryBadSql',
  TABLE_NOT_FOUND = 'BigQueryTableNotFound',
  DATASET_NOT_FOUND = 'BigQueryDatasetNotFound',
  INVALID_IDENTIFIER = 'BigQueryInvalidIdentifier',
  INVALID_REQUEST = 'BigQueryInvalidRequest',
  ALREADY_EXISTS = 'BigQueryAlreadyExists',
  ACCESS_DENIED = 'BigQueryAccessDenied',
  RESOURCES_EXCEEDED = 'BigQueryResourcesExceeded',
  /** A copy or promotion found other rows or columns than it wrote, or a table it cannot go on from. */
  CHECK_FAILED = 'BigQueryCheckFailed',
  /** Rate limits, backend errors, lost connections: retried by the activity's retry policy. */
  TRANSIENT = 'BigQueryTransient',
}

const nonRetryable = new Set<BigQueryErrorType>([
  BigQueryErrorType.BAD_SQL,
  BigQueryErrorType.TABLE_NOT_FOUND,
  BigQueryErrorType.DATASET_NOT_FOUND,
  BigQueryErrorType.INVALID_IDENTIFIER,
  BigQueryErrorType.INVALID_REQUEST,
  BigQueryErrorType.ALREADY_EXISTS,
  BigQueryErrorType.ACCESS_DENIED,
  BigQueryErrorType.RESOURCES_EXCEEDED,
  BigQueryErrorType.CHECK_FAILED,
]);

/** A typed failure; non-retryable exactly when the type says retrying cannot help. */
export function bigQueryFailure(type: BigQueryErrorType, message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: nonRetryable.has(type), cause });
}

interface ApiErrorLike {
  code?: number | string;
  message?: string;
  errors?: { reason?: string; message?: string }[];
}

// BigQuery's documented error reasons (https://cloud.google.com/bigquery/docs/error-messages).
const transientReasons = new Set([
  'backendError',
  'internalError',
  'jobBackendError',
  'jobInternalError',
  'rateLimitExceeded',
  'quotaExceeded',
  'tableUnavailable',
  'timeout',
]);

/** Maps an error's reason (or HTTP status) to our failure type. */
export function classifyBigQueryError(
  error: unknown,
  operation: 'query' | 'other' = 'other',
): BigQueryErrorType {
  const apiError = error as ApiErrorLike;
  const reason = apiError.errors?.find((entry) => entry.reason)?.reason;
  const message = apiError.message ?? '';
  switch (reason) {
    case 'notFound':
      return /\bdataset\b/i.test(message)
        ? BigQueryErrorType.DATASET_NOT_FOUND
        : BigQueryErrorType.TABLE_NOT_FOUND;
    case 'invalidQuery':
      return BigQueryErrorType.BAD_SQL;
    case 'invalid':
      return operation === 'query' ? BigQueryErrorType.BAD_SQL : BigQueryErrorType.INVALID_REQUEST;
    case 'duplicate':
      return BigQueryErrorType.ALREADY_EXISTS;
    case 'accessDenied':
    case 'billingNotEnabled':
    case 'billingTierLimitExceeded':
      return BigQueryErrorType.ACCESS_DENIED;
    case 'resourcesExceeded':
    case 'responseTooLarge':
      return BigQueryErrorType.RESOURCES_EXCEEDED;
  }
  if (reason && transientReasons.has(reason)) return BigQueryErrorType.TRANSIENT;
  const status = Number(apiError.code);
  if (status === 404) return BigQueryErrorType.TABLE_NOT_FOUND;
  if (status === 400)
    return operation === 'query' ? BigQueryErrorType.BAD_SQL : BigQueryErrorType.INVALID_REQUEST;
  if (status === 403) return BigQueryErrorType.ACCESS_DENIED;
  if (status === 409) return BigQueryErrorType.ALREADY_EXISTS;
  // Anything else (5xx, 429, ECONNRESET, a timeout) may pass on its own: let the retry policy decide.
  return BigQueryErrorType.TRANSIENT;
}

/**
 * Runs one warehouse call and turns its error into a typed failure whose message starts with what
 * was being done to what (`query for step quality.data`, `copy smc_x.a → prod.b`), so an operator
 * reading the Web UI knows which table or query failed without opening logs.
 */
export async function withBigQueryErrors<T>(
  what: string,
  fn: () => Promise<T>,
  operation: 'query' | 'other' = 'other',
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    // Our own typed failures, and a cancellation, go through untouched.
    if (error instanceof TemporalFailure) throw error;
    const type = classifyBigQueryError(error, operation);
    const message = error instanceof Error ? error.message : String(error);
    throw bigQueryFailure(type, `${what}: ${message}`, error instanceof Error ? error : undefined);
  }
}

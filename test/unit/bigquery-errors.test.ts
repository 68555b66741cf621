import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  BigQueryErrorType,
  classifyBigQueryError,
  withBigQueryErrors,
} from '../../activities/bigquery/errors';
import {
  cacheKeyTableName,
  checkIdentifier,
  labelValue,
  scratchDatasetName,
  tableSql,
} from '../../activities/bigquery/identifiers';

const apiError = (code: number | undefined, reason: string, message: string) =>
  Object.assign(new Error(message), { code, errors: [{ reason, message }] });

describe('classifying BigQuery errors', () => {
  it.each([
    [apiError(404, 'notFound', 'Not found: Table p.d.t'), BigQueryErrorType.TABLE_NOT_FOUND],
    [apiError(404, 'notFound', 'Not found: Dataset p:d'), BigQueryErrorType.DATASET_NOT_FOUND],
    [apiError(400, 'invalidQuery', 'Syntax error'), BigQueryErrorType.BAD_SQL],
    [apiError(409, 'duplicate', 'Already Exists: Table p:d.t'), BigQueryErrorType.ALREADY_EXISTS],
    [apiError(403, 'accessDenied', 'Access Denied'), BigQueryErrorType.ACCESS_DENIED],
    [apiError(400, 'resourcesExceeded', 'Resources exceeded'), BigQueryErrorType.RESOURCES_EXCEEDED],
    [apiError(403, 'rateLimitExceeded', 'Exceeded rate limits'), BigQueryErrorType.TRANSIENT],
    [apiError(500, 'backendError', 'Backend error'), BigQueryErrorType.TRANSIENT],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), BigQueryErrorType.TRANSIENT],
  ])('%s → %s', (error, type) => {
    expect(classifyBigQueryError(error, 'query')).toBe(type);
  });

  it('reads an "invalid" reason as bad SQL for a query and as a bad request otherwise', () => {
    const error = apiError(400, 'invalid', 'Invalid value');
    expect(classifyBigQueryError(error, 'query')).toBe(BigQueryErrorType.BAD_SQL);
    expect(classifyBigQueryError(error, 'other')).toBe(BigQueryErrorType.INVALID_REQUEST);
  });

  it('wraps an error into a failure that names what was being done, retryable only when transient', async () => {
    const notFound = await withBigQueryErrors('copy d.a to d.b', () =>
      Promise.reject(apiError(404, 'notFound', 'Not found: Table p:d.a')),
    ).catch((error: unknown) => error as ApplicationFailure);
    expect(notFound).toBeInstanceOf(ApplicationFailure);
    expect(notFound.message).toBe('copy d.a to d.b: Not found: Table p:d.a');
    expect(notFound.nonRetryable).toBe(true);
    const busy = await withBigQueryErrors('query', () =>
      Promise.reject(apiError(500, 'backendError', 'try later')),
    ).catch((error: unknown) => error as ApplicationFailure);
    expect(busy.type).toBe(BigQueryErrorType.TRANSIENT);
    expect(busy.nonRetryable).toBe(false);
  });
});

describe('identifiers spliced into SQL', () => {
  it.each(['a`b', 'a.b', 'a b', 'a;DROP', '', '1abc', 'ä'])('rejects dataset name %j', (name) => {
    expect(() => checkIdentifier('dataset', name)).toThrow(ApplicationFailure);
  });

  it('accepts plain names and quotes a fully named table', () => {
    expect(tableSql({ dataset: 'smc_visits', table: 'quality_data_1' }, 'retrainer-local')).toBe(
      '`retrainer-local.smc_visits.quality_data_1`',
    );
    expect(() => tableSql({ project: 'Bad_Project', dataset: 'd', table: 't' }, 'x')).toThrow(
      /invalid project/,
    );
  });

  it('names step outputs from the cache key, so a changed computation never reuses an old table', () => {
    expect(cacheKeyTableName('quality.train', 'ABCDEF0123456789')).toBe('quality_train_abcdef01');
    expect(cacheKeyTableName('trend.predict', 'abcdef0123456789', 'scores')).toBe(
      'trend_predict_scores_abcdef01',
    );
    expect(cacheKeyTableName('a', '11111111')).not.toBe(cacheKeyTableName('a', '11111112'));
    expect(cacheKeyTableName('quality.labels', 'abcdef0123', 'table')).toBe('quality_labels_abcdef01');
    expect(() => cacheKeyTableName('a', 'not-hex')).toThrow(/not hex/);
  });

  it('derives scratch dataset names and label values BigQuery accepts', () => {
    expect(scratchDatasetName('smc_', 'visits-scaling')).toBe('smc_visits_scaling');
    expect(labelValue('Visits-Scaling/2026-Q4')).toBe('visits-scaling_2026-q4');
    expect(labelValue('x'.repeat(100))).toHaveLength(63);
  });
});

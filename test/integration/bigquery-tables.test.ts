import { BigQuery } from '@google-cloud/bigquery';
import { PassThroughClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BigQueryErrorType,
  cacheKeyTableName,
  createBigQueryActivities,
  dateParam,
  type BigQueryActivities,
} from '../../activities/bigquery';
import { freePort } from '../../activities/providers/process';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { failureOf } from '../harness/failures';

const labels = { run_id: 'visits-scaling/2026-Q4', pipeline: 'visits-scaling', step: 'quality.data' };

describe('BigQuery table activities on the emulator', () => {
  let bq: BigQueryHarness;
  let activities: BigQueryActivities;
  let dataset: string;
  beforeAll(async () => {
    bq = await startBigQueryHarness();
    activities = createBigQueryActivities(bq.bigquery, bq.config);
    dataset = (await activities.ensureScratchDataset({ pipeline: 'visits-scaling' })).dataset;
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('creates the scratch dataset once, with a 30-day default table expiration', async () => {
    expect(dataset).toBe('smc_visits_scaling');
    const [metadata] = await bq.bigquery.dataset(dataset).getMetadata();
    expect(metadata.defaultTableExpirationMs).toBe(String(30 * 86_400_000));
    expect(await activities.ensureScratchDataset({ pipeline: 'visits-scaling' })).toEqual({
      dataset,
      created: false,
    });
  });

  it('sets the expiration on a scratch dataset that existed without one', async () => {
    await bq.bigquery.createDataset('smc_legacy');
    expect(await activities.ensureScratchDataset({ pipeline: 'legacy' })).toEqual({
      dataset: 'smc_legacy',
      created: false,
    });
    const [metadata] = await bq.bigquery.dataset('smc_legacy').getMetadata();
    expect(metadata.defaultTableExpirationMs).toBe(String(30 * 86_400_000));
  });

  it('writes a query with parameters into a table named from the cache key, labelled by the run', async () => {
    const table = cacheKeyTableName('quality.data', '3f9a1c2e5b7d00112233');
    expect(table).toBe('quality_data_3f9a1c2e');
    const result = await activities.queryToTable({
      sql: 'SELECT n AS id, @cutoff AS cutoff FROM UNNEST(GENERATE_ARRAY(1, @n)) AS n',
      params: { cutoff: dateParam('2026-09-30'), n: 4 },
      destination: { dataset, table },
      labels,
    });
    expect(result.rows).toBe(4);
    expect(result.createdTables).toEqual([{ project: bq.emulator.projectId, dataset, table }]);
    const described = await activities.describeTable({ table: { dataset, table } });
    expect(described.labels).toEqual({
      run_id: 'visits-scaling_2026-q4',
      pipeline: 'visits-scaling',
      step: 'quality_data',
    });
    expect(described.fields).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'cutoff', type: 'DATE' },
    ]);
    const rows = await activities.queryRows({
      sql: `SELECT * FROM \`${dataset}.${table}\` ORDER BY id LIMIT 1`,
    });
    expect(rows).toEqual([{ id: 1, cutoff: '2026-09-30' }]);
  });

  it('replaces a table when the same step writes it again', async () => {
    const destination = { dataset, table: 'replaced' };
    await activities.queryToTable({ sql: 'SELECT 1 AS a UNION ALL SELECT 2', destination, labels });
    const again = await activities.queryToTable({ sql: 'SELECT "x" AS b', destination, labels });
    expect(again.rows).toBe(1);
    expect((await activities.describeTable({ table: destination })).fields).toEqual([
      { name: 'b', type: 'STRING' },
    ]);
  });

  it('rejects an identifier that could break out of the SQL before sending anything', async () => {
    const failure = await failureOf(
      activities.queryToTable({
        sql: 'SELECT 1',
        destination: { dataset, table: 'x` ; DROP TABLE y; --' },
        labels,
      }),
    );
    expect(failure.type).toBe(BigQueryErrorType.INVALID_IDENTIFIER);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('x` ; DROP TABLE y; --');
  });

  it('fails bad SQL as non-retryable BAD_SQL naming the table it was writing', async () => {
    const failure = await failureOf(
      activities.queryToTable({ sql: 'SELEC 1', destination: { dataset, table: 'bad_sql' }, labels }),
    );
    expect(failure.type).toBe(BigQueryErrorType.BAD_SQL);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/query writing smc_visits_scaling\.bad_sql: .*syntax error/i);
  });

  it('fails a query on a missing table as non-retryable TABLE_NOT_FOUND naming the missing table', async () => {
    const failure = await failureOf(
      activities.queryToTable({
        sql: `SELECT * FROM \`${dataset}.no_such_input\``,
        destination: { dataset, table: 'from_missing' },
        labels,
      }),
    );
    expect(failure.type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('smc_visits_scaling.no_such_input');
  });

  it('reports a missing table as absent, and refuses to keep it with its name in the error', async () => {
    expect((await activities.describeTable({ table: { dataset, table: 'absent' } })).exists).toBe(false);
    const failure = await failureOf(activities.keepTable({ table: { dataset, table: 'absent' } }));
    expect(failure.type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect(failure.message).toContain('smc_visits_scaling.absent');
  });

  it('pushes the expiration of a reused table out by the scratch expiration', async () => {
    await activities.queryToTable({ sql: 'SELECT 1 AS a', destination: { dataset, table: 'kept' }, labels });
    const { expiresAt } = await activities.keepTable({ table: { dataset, table: 'kept' } });
    // The emulator neither stores nor enforces a table's expirationTime, so only the request is checked.
    expect(expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    await bq.bigquery.createDataset('production_like');
    await activities.queryToTable({
      sql: 'SELECT 1 AS a',
      destination: { dataset: 'production_like', table: 't' },
      labels,
    });
    expect(
      (await activities.keepTable({ table: { dataset: 'production_like', table: 't' } })).expiresAt,
    ).toBeNull();
  });

  it('copies a table and deletes tables, reporting those already gone', async () => {
    await activities.queryToTable({ sql: 'SELECT 7 AS a', destination: { dataset, table: 'orig' }, labels });
    const copied = await activities.copyTable({
      source: { dataset, table: 'orig' },
      destination: { dataset, table: 'copy' },
      labels,
    });
    expect(copied.rows).toBe(1);
    expect(copied.createdTables.map((t) => t.table)).toEqual(['copy']);
    const result = await activities.deleteTables({
      tables: [
        { dataset, table: 'orig' },
        { dataset, table: 'copy' },
        { dataset, table: 'never_made' },
      ],
    });
    expect(result).toEqual({
      deleted: ['smc_visits_scaling.orig', 'smc_visits_scaling.copy'],
      missing: ['smc_visits_scaling.never_made'],
    });
  });

  it('replaces a copy destination whose columns differ, with the source rows checked', async () => {
    await activities.queryToTable({
      sql: 'SELECT "a" AS x, 1 AS y',
      destination: { dataset, table: 'wide' },
      labels,
    });
    await activities.queryToTable({
      sql: 'SELECT 2.5 AS z UNION ALL SELECT 3.5',
      destination: { dataset, table: 'narrow' },
      labels,
    });
    const copied = await activities.copyTable({
      source: { dataset, table: 'narrow' },
      destination: { dataset, table: 'wide' },
      labels,
    });
    expect(copied).toMatchObject({ rows: 2, createdTables: [] });
    expect(await activities.queryRows({ sql: `SELECT * FROM \`${dataset}.wide\` ORDER BY z` })).toEqual([
      { z: 2.5 },
      { z: 3.5 },
    ]);
  });

  it('fails a copy of a missing table naming it', async () => {
    const failure = await failureOf(
      activities.copyTable({
        source: { dataset, table: 'gone' },
        destination: { dataset, table: 'x' },
        labels,
      }),
    );
    expect(failure.type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect(failure.message).toContain('smc_visits_scaling.gone');
  });

  it('runs DML statements and counts the rows they changed', async () => {
    await activities.queryToTable({ sql: 'SELECT 1 AS a', destination: { dataset, table: 'dml' }, labels });
    const result = await activities.runStatement({
      sql: `INSERT INTO \`${dataset}.dml\` (a) SELECT n FROM UNNEST(GENERATE_ARRAY(2, @last)) AS n`,
      params: { last: 4 },
    });
    expect(result.affectedRows).toBe(3);
    expect(await activities.queryRows({ sql: `SELECT COUNT(*) AS n FROM \`${dataset}.dml\`` })).toEqual([
      { n: 4 },
    ]);
  });

  it('refuses to return more rows than asked for', async () => {
    const failure = await failureOf(
      activities.queryRows({ sql: 'SELECT n FROM UNNEST(GENERATE_ARRAY(1, 20)) AS n', maxRows: 5 }),
    );
    expect(failure.type).toBe(BigQueryErrorType.INVALID_REQUEST);
  });

  it('keeps an unreachable warehouse retryable', async () => {
    const port = await freePort();
    const unreachable = createBigQueryActivities(
      new BigQuery({
        projectId: 'unreachable',
        apiEndpoint: `http://127.0.0.1:${port}`,
        authClient: new PassThroughClient(),
        autoRetry: false,
      }),
      {
        BIGQUERY_PROJECT: 'unreachable',
        BIGQUERY_LOCATION: 'US',
        SCRATCH_DATASET_PREFIX: 'smc_',
        SCRATCH_EXPIRATION_DAYS: 30,
      },
    );
    const failure = await failureOf(unreachable.describeTable({ table: { dataset: 'smc_a', table: 'b' } }));
    expect(failure.type).toBe(BigQueryErrorType.TRANSIENT);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain('smc_a.b');
  });
});

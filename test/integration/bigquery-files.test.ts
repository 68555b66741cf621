import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BigQueryErrorType,
  createBigQueryActivities,
  dateParam,
  type BigQueryActivities,
} from '../../activities/bigquery';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

const labels = { run_id: 'r1', pipeline: 'visits-scaling', step: 'trend.train' };
const readNdjson = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('moving warehouse data to and from files (NDJSON) on the emulator', () => {
  let bq: BigQueryHarness;
  let activities: BigQueryActivities;
  let dir: string;
  const dataset = 'smc_files';

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    activities = createBigQueryActivities(bq.bigquery, bq.config);
    await activities.ensureScratchDataset({ pipeline: 'files' });
    await activities.queryToTable({
      sql: `SELECT n AS poi_id, DATE_ADD(DATE "2026-09-01", INTERVAL n DAY) AS day, n * 1.5 AS visits,
              n = 2 AS closed, IF(n = 3, NULL, CONCAT("poi-", CAST(n AS STRING))) AS name
            FROM UNNEST(GENERATE_ARRAY(1, 3)) AS n`,
      destination: { dataset, table: 'pois' },
      labels,
    });
    dir = testTempDir('bq-files');
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('exports a table to NDJSON with dates as ISO strings and nulls kept', async () => {
    const path = join(dir, 'out', 'pois.ndjson');
    const result = await activities.exportToFile({ table: { dataset, table: 'pois' }, path });
    expect(result.rows).toBe(3);
    expect(result.bytes).toBeGreaterThan(0);
    expect(existsSync(`${path}.part`)).toBe(false);
    const rows = readNdjson(path).sort((a, b) => Number(a.poi_id) - Number(b.poi_id));
    expect(rows).toEqual([
      { poi_id: 1, day: '2026-09-02', visits: 1.5, closed: false, name: 'poi-1' },
      { poi_id: 2, day: '2026-09-03', visits: 3, closed: true, name: 'poi-2' },
      { poi_id: 3, day: '2026-09-04', visits: 4.5, closed: false, name: null },
    ]);
  });

  it('exports the rows of a parameterised query', async () => {
    const path = join(dir, 'recent.ndjson');
    const result = await activities.exportToFile({
      sql: `SELECT poi_id FROM \`${dataset}.pois\` WHERE day > @since ORDER BY poi_id`,
      params: { since: dateParam('2026-09-02') },
      path,
    });
    expect(result.rows).toBe(2);
    expect(readNdjson(path)).toEqual([{ poi_id: 2 }, { poi_id: 3 }]);
  });

  it('loads NDJSON with a schema into a labelled table, round-tripping an export', async () => {
    const path = join(dir, 'pois.ndjson');
    await activities.exportToFile({ table: { dataset, table: 'pois' }, path });
    const loaded = await activities.loadFromFile({
      path,
      table: { dataset, table: 'pois_copy' },
      schema: [
        { name: 'poi_id', type: 'INTEGER' },
        { name: 'day', type: 'DATE' },
        { name: 'visits', type: 'FLOAT' },
        { name: 'closed', type: 'BOOLEAN' },
        { name: 'name', type: 'STRING' },
      ],
      labels,
    });
    expect(loaded.rows).toBe(3);
    expect(loaded.createdTables).toEqual([{ project: bq.emulator.projectId, dataset, table: 'pois_copy' }]);
    const [original, copy] = await Promise.all(
      ['pois', 'pois_copy'].map((table) =>
        activities.queryRows({ sql: `SELECT * FROM \`${dataset}.${table}\` ORDER BY poi_id` }),
      ),
    );
    expect(copy).toEqual(original);
    expect((await activities.describeTable({ table: { dataset, table: 'pois_copy' } })).labels).toMatchObject(
      {
        step: 'trend_train',
      },
    );
  });

  it('loads predictions written by a training program, detecting their types, and replaces on reload', async () => {
    const path = join(dir, 'predictions.ndjson');
    writeFileSync(path, '{"poi_id": 1, "prediction": 0.25}\n{"poi_id": 2, "prediction": 0.75}\n');
    const table = { dataset, table: 'predictions' };
    expect((await activities.loadFromFile({ path, table, labels })).rows).toBe(2);
    expect((await activities.loadFromFile({ path, table, labels })).rows).toBe(2);
    expect((await activities.describeTable({ table })).fields).toEqual([
      { name: 'poi_id', type: 'INTEGER' },
      { name: 'prediction', type: 'FLOAT' },
    ]);
  });

  it('replaces a table whose columns changed (the emulator would keep the old ones)', async () => {
    const table = { dataset, table: 'reshaped' };
    const first = join(dir, 'first.ndjson');
    const second = join(dir, 'second.ndjson');
    writeFileSync(first, '{"a": 1, "b": "x"}\n');
    writeFileSync(second, '{"c": 2.5}\n{"c": 3.5}\n');
    await activities.loadFromFile({
      path: first,
      table,
      schema: [
        { name: 'a', type: 'INTEGER' },
        { name: 'b', type: 'STRING' },
      ],
      labels,
    });
    await activities.loadFromFile({ path: second, table, schema: [{ name: 'c', type: 'FLOAT' }], labels });
    expect(await activities.queryRows({ sql: `SELECT * FROM \`${dataset}.reshaped\` ORDER BY c` })).toEqual([
      { c: 2.5 },
      { c: 3.5 },
    ]);
  });

  it('fails a load of malformed NDJSON as a non-retryable invalid request naming the file', async () => {
    const path = join(dir, 'malformed.ndjson');
    writeFileSync(path, '{"a": 1}\nnot json\n');
    const error = await activities
      .loadFromFile({
        path,
        table: { dataset, table: 'malformed' },
        schema: [{ name: 'a', type: 'INTEGER' }],
        labels,
      })
      .catch((caught: unknown) => caught);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.INVALID_REQUEST);
    expect((error as ApplicationFailure).nonRetryable).toBe(true);
    expect((error as ApplicationFailure).message).toContain(path);
  });

  it('fails an export of a missing table naming it, leaving no file behind', async () => {
    const path = join(dir, 'missing.ndjson');
    const error = await activities
      .exportToFile({ table: { dataset, table: 'nope' }, path })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect((error as ApplicationFailure).message).toContain('smc_files.nope');
    expect(existsSync(path) || existsSync(`${path}.part`)).toBe(false);
  });

  it('fails a load of a file that is not there, naming it', async () => {
    const path = join(dir, 'not-written.ndjson');
    const error = await activities
      .loadFromFile({ path, table: { dataset, table: 'x' }, labels })
      .catch((caught: unknown) => caught);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.INVALID_REQUEST);
    expect((error as ApplicationFailure).message).toContain(path);
  });

  it('heartbeats its progress and stops when cancelled, leaving no file behind', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => {
      beats.push(details);
      env.cancel();
    });
    const path = join(dir, 'cancelled.ndjson');
    const error = await env
      .run(activities.exportToFile, { sql: 'SELECT n FROM UNNEST(GENERATE_ARRAY(1, 20000)) AS n', path })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(beats[0]).toEqual({ rows: 1000 });
    expect(existsSync(path) || existsSync(`${path}.part`)).toBe(false);
  });
});

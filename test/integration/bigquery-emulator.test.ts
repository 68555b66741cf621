import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQueryJob } from '../../activities/bigquery';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';

describe('BigQuery emulator through @google-cloud/bigquery', () => {
  let bq: BigQueryHarness;
  beforeAll(async () => {
    bq = await startBigQueryHarness();
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('creates a dataset and a table, inserts rows and queries them with parameters', async () => {
    const [dataset] = await bq.bigquery.createDataset('smc_smoke');
    const [table] = await dataset.createTable('visits', {
      schema: [
        { name: 'poi_id', type: 'STRING' },
        { name: 'day', type: 'DATE' },
        { name: 'visits', type: 'INTEGER' },
      ],
    });
    await table.insert([
      { poi_id: 'a', day: '2026-09-01', visits: 3 },
      { poi_id: 'a', day: '2026-09-02', visits: 4 },
      { poi_id: 'b', day: '2026-09-01', visits: 10 },
    ]);
    const [rows] = await bq.bigquery.query({
      query:
        'SELECT poi_id, SUM(visits) AS total FROM `smc_smoke.visits` WHERE day <= @cutoff GROUP BY poi_id ORDER BY poi_id',
      params: { cutoff: bq.bigquery.date('2026-09-01') },
    });
    expect(rows).toEqual([
      { poi_id: 'a', total: 3 },
      { poi_id: 'b', total: 10 },
    ]);
    const [metadata] = await table.getMetadata();
    expect(metadata.tableReference).toMatchObject({
      datasetId: 'smc_smoke',
      tableId: 'visits',
      projectId: bq.emulator.projectId,
    });
  });

  it('fails a query job on a missing table with an error naming it', async () => {
    await expect(runQueryJob(bq.bigquery, 'SELECT * FROM `smc_smoke.no_such_table`')).rejects.toThrow(
      /Not found: Table .*smc_smoke\.no_such_table/,
    );
  });

  it('fails a query job with bad SQL with a syntax error', async () => {
    await expect(runQueryJob(bq.bigquery, 'SELEC 1')).rejects.toThrow(/Syntax error/);
  });

  it('writes tables by SQL (CREATE OR REPLACE TABLE … AS SELECT)', async () => {
    await runQueryJob(
      bq.bigquery,
      'CREATE OR REPLACE TABLE `smc_smoke.daily` AS SELECT poi_id, SUM(visits) AS visits FROM `smc_smoke.visits` GROUP BY poi_id',
    );
    const [rows] = await bq.bigquery.dataset('smc_smoke').table('daily').getRows();
    expect(rows.map((row) => Number(row.visits)).sort((a, b) => a - b)).toEqual([7, 10]);
  });
});

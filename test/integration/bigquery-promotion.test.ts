import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BigQueryErrorType,
  createBigQueryActivities,
  type BigQueryActivities,
  type PromotionEntry,
} from '../../activities/bigquery';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';

const labels = { run_id: 'visits-scaling/2026-q4', pipeline: 'visits-scaling', step: 'promote' };

describe('promotion of production tables on the emulator (all or nothing)', () => {
  let bq: BigQueryHarness;
  let activities: BigQueryActivities;
  const scratch = 'smc_visits_scaling';
  const prod = 'visits';

  const rowsOf = async (table: string) =>
    activities.queryRows({ sql: `SELECT * FROM \`${prod}.${table}\` ORDER BY 1` });
  const tablesIn = async (dataset: string) =>
    (await bq.bigquery.dataset(dataset).getTables())[0].map((table) => table.id).sort();

  async function seed(): Promise<PromotionEntry[]> {
    const write = (dataset: string, table: string, sql: string) =>
      activities.queryToTable({ sql, destination: { dataset, table }, labels });
    await write(prod, 'poi_visits_scaled', 'SELECT DATE "2026-06-30" AS day, 10 AS visits');
    await write(prod, 'quality_predictions', 'SELECT 1 AS poi_id, 0.5 AS score');
    await bq.bigquery.dataset(prod).table('trend_predictions').delete({ ignoreNotFound: true });
    // The new scaled table has one more column: a schema change, which the emulator's copy mishandles.
    await write(
      scratch,
      'poi_visits_scaled_new',
      'SELECT day, 20 AS visits, "v2" AS model FROM UNNEST([DATE "2026-06-30", DATE "2026-07-01"]) AS day',
    );
    await write(
      scratch,
      'quality_predictions_new',
      'SELECT 1 AS poi_id, 0.9 AS score UNION ALL SELECT 2, 0.1',
    );
    await write(scratch, 'trend_predictions_new', 'SELECT 1 AS poi_id, 1.5 AS trend');
    return ['poi_visits_scaled', 'quality_predictions', 'trend_predictions'].map((table) => ({
      source: { dataset: scratch, table: `${table}_new` },
      target: { dataset: prod, table },
    }));
  }

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    activities = createBigQueryActivities(bq.bigquery, bq.config);
    await activities.ensureScratchDataset({ pipeline: 'visits-scaling' });
    await bq.bigquery.createDataset(prod);
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('stages without touching production, commits every table, and cleans up after itself', async () => {
    const tables = await seed();
    const plan = await activities.stagePromotion({ promotionId: 'r1', tables, labels });
    expect(plan.tables.map((entry) => [entry.target.table, entry.rows, entry.backup?.table ?? null])).toEqual(
      [
        ['poi_visits_scaled', 2, 'poi_visits_scaled__backup_r1'],
        ['quality_predictions', 2, 'quality_predictions__backup_r1'],
        ['trend_predictions', 1, null],
      ],
    );
    expect(await rowsOf('poi_visits_scaled')).toEqual([{ day: '2026-06-30', visits: 10 }]);
    expect(await tablesIn(prod)).not.toContain('trend_predictions');

    expect(await activities.commitPromotion({ plan })).toEqual({
      replaced: ['visits.poi_visits_scaled', 'visits.quality_predictions', 'visits.trend_predictions'],
    });
    expect(await rowsOf('poi_visits_scaled')).toEqual([
      { day: '2026-06-30', visits: 20, model: 'v2' },
      { day: '2026-07-01', visits: 20, model: 'v2' },
    ]);
    expect(await rowsOf('quality_predictions')).toEqual([
      { poi_id: 1, score: 0.9 },
      { poi_id: 2, score: 0.1 },
    ]);
    expect(await rowsOf('trend_predictions')).toEqual([{ poi_id: 1, trend: 1.5 }]);

    // Committing again (a retried activity) changes nothing.
    await activities.commitPromotion({ plan });
    expect(await rowsOf('quality_predictions')).toHaveLength(2);

    await activities.finishPromotion({ plan });
    expect(await tablesIn(prod)).toEqual(['poi_visits_scaled', 'quality_predictions', 'trend_predictions']);
  });

  it('rolls every table back to what it held before, removing tables that did not exist', async () => {
    const tables = await seed();
    const plan = await activities.stagePromotion({ promotionId: 'r2', tables, labels });
    await activities.commitPromotion({ plan });
    expect(await activities.rollbackPromotion({ plan })).toEqual({
      restored: ['visits.poi_visits_scaled', 'visits.quality_predictions'],
      removed: ['visits.trend_predictions'],
    });
    expect(await rowsOf('poi_visits_scaled')).toEqual([{ day: '2026-06-30', visits: 10 }]);
    expect(await rowsOf('quality_predictions')).toEqual([{ poi_id: 1, score: 0.5 }]);
    expect(await tablesIn(prod)).not.toContain('trend_predictions');
    await activities.finishPromotion({ plan });
  });

  it('promotes in one call, and after a crash mid-commit runs again keeping the true earlier state', async () => {
    const tables = await seed();
    const input = { promotionId: 'r5', tables, labels };
    await activities.stagePromotion(input);
    // The worker died right after replacing the first target.
    await bq.bigquery.dataset(prod).table('poi_visits_scaled').delete();
    await bq.bigquery
      .dataset(prod)
      .table('poi_visits_scaled__stage_r5')
      .copy(bq.bigquery.dataset(prod).table('poi_visits_scaled'));

    const { replaced, plan } = await activities.promoteTables({ ...input, keepBackups: true });
    expect(replaced).toHaveLength(3);
    expect(await rowsOf('poi_visits_scaled')).toHaveLength(2);
    await activities.rollbackPromotion({ plan });
    expect(await rowsOf('poi_visits_scaled')).toEqual([{ day: '2026-06-30', visits: 10 }]);
    expect(await tablesIn(prod)).not.toContain('trend_predictions');

    await activities.promoteTables({ promotionId: 'r6', tables, labels });
    expect(await tablesIn(prod)).toEqual([
      'poi_visits_scaled',
      'poi_visits_scaled__backup_r5',
      'quality_predictions',
      'quality_predictions__backup_r5',
      'trend_predictions',
    ]);
  });

  it('refuses to stage when a source is missing, naming it, with production untouched', async () => {
    const tables = await seed();
    await bq.bigquery.dataset(scratch).table('quality_predictions_new').delete();
    const before = await tablesIn(prod);
    const error = await activities
      .stagePromotion({ promotionId: 'r3', tables, labels })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect((error as ApplicationFailure).nonRetryable).toBe(true);
    expect((error as ApplicationFailure).message).toContain('smc_visits_scaling.quality_predictions_new');
    expect(await tablesIn(prod)).toEqual(before);
  });

  it('refuses to commit when a staging table went missing, before replacing anything', async () => {
    const tables = await seed();
    const plan = await activities.stagePromotion({ promotionId: 'r4', tables, labels });
    await bq.bigquery.dataset(prod).table('trend_predictions__stage_r4').delete();
    const error = await activities.commitPromotion({ plan }).catch((e: unknown) => e);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.CHECK_FAILED);
    expect((error as ApplicationFailure).message).toContain('visits.trend_predictions__stage_r4 is missing');
    expect(await rowsOf('poi_visits_scaled')).toEqual([{ day: '2026-06-30', visits: 10 }]);
    await activities.finishPromotion({ plan });
  });

  it('rejects a promotion id that is not a plain name', async () => {
    const error = await activities
      .stagePromotion({ promotionId: 'Run/1', tables: [], labels })
      .catch((e: unknown) => e);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.INVALID_IDENTIFIER);
  });
});

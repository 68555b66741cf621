import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities, dateParam, type BigQueryActivities } from '../../activities/bigquery';
import { renderSqlFile } from '../../activities/bigquery/sql';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';

const labels = { run_id: 'r', pipeline: 'visits-scaling', step: 'quality.labels' };
const start = '2026-01-01';
const days = 200; // day index 0..199; the cutoff is the last one
const cutoff = '2026-07-19';

interface LabelRow {
  met_area: number;
  day: string;
  split: string;
  visits_total: number;
  visits_smoothable: number;
  ratio: number;
  smoothed_ratio: number;
  seasonal_adjustment: number;
  target_ratio: number;
  target_visits: number;
}

describe('quality labels (pipelines/visits-scaling/sql/quality_labels.sql) on hand-made data', () => {
  let bq: BigQueryHarness;
  let activities: BigQueryActivities;
  let rows: LabelRow[];
  const dataset = 'smc_quality_labels';

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    activities = createBigQueryActivities(bq.bigquery, bq.config);
    await activities.ensureScratchDataset({ pipeline: 'quality_labels' });
    const write = (table: string, sql: string) =>
      activities.queryToTable({ sql, destination: { dataset, table }, labels });
    const dayIndex = `DATE_DIFF(day, DATE "${start}", DAY)`;
    // Ten days past the cutoff with absurd values: if the query read them, the constant area would move.
    const calendar = `UNNEST(GENERATE_DATE_ARRAY(DATE "${start}", DATE_ADD(DATE "${start}", INTERVAL ${days + 9} DAY))) AS day`;
    await write(
      'pois',
      `SELECT * FROM UNNEST([
         STRUCT(1 AS poi_id, 0 AS met_area, CAST(NULL AS DATE) AS closed_on),
         STRUCT(2, 0, DATE "2025-12-01"),
         STRUCT(3, 11, CAST(NULL AS DATE)),
         STRUCT(4, 5, CAST(NULL AS DATE))])`,
    );
    await write(
      'clusters',
      `SELECT met_area, day, 100 AS clusters FROM UNNEST([0, 11, 5]) AS met_area, ${calendar}`,
    );
    await write(
      'visits',
      `SELECT day, 1 AS poi_id, 0 AS met_area, FALSE AS near_home, FALSE AS near_work,
              IF(day > DATE "${cutoff}", 5000, 50) AS visits FROM ${calendar}
       UNION ALL SELECT day, 1, 0, TRUE, FALSE, 30 FROM ${calendar}
       UNION ALL SELECT day, 1, 0, FALSE, TRUE, 20 FROM ${calendar}
       UNION ALL SELECT day, 2, 0, FALSE, FALSE, 500 FROM ${calendar}
       UNION ALL SELECT day, 3, 11, FALSE, FALSE, ${dayIndex} FROM ${calendar}
       UNION ALL SELECT day, 4, 5, FALSE, FALSE, 7 FROM ${calendar}`,
    );
    const sql = renderSqlFile(
      'pipelines/visits-scaling/sql/quality_labels.sql',
      {
        pois: { dataset, table: 'pois' },
        visits: { dataset, table: 'visits' },
        clusters: { dataset, table: 'clusters' },
      },
      bq.emulator.projectId,
    );
    await activities.queryToTable({
      sql,
      params: { cutoff: dateParam(cutoff) },
      destination: { dataset, table: 'labels' },
      labels,
    });
    rows = (await activities.queryRows({
      sql: `SELECT * FROM \`${dataset}.labels\` ORDER BY met_area, day`,
    })) as unknown as LabelRow[];
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('labels the training areas and the validation area only, up to the cutoff', () => {
    expect(new Set(rows.map((row) => `${row.met_area}:${row.split}`))).toEqual(
      new Set(['0:train', '11:validation']),
    );
    expect(rows.filter((row) => row.met_area === 0)).toHaveLength(days);
    expect(rows.every((row) => row.day <= cutoff)).toBe(true);
  });

  it('turns a constant series into the constant, leaving closed locations and home/work visits out', () => {
    for (const row of rows.filter((r) => r.met_area === 0)) {
      expect(row.visits_total).toBe(50 + 30 + 20 + 500);
      expect(row.visits_smoothable).toBe(50);
      expect(row.smoothed_ratio).toBeCloseTo(0.5, 12);
      expect(row.seasonal_adjustment).toBeCloseTo(0, 12);
      expect(row.target_ratio).toBeCloseTo(0.5, 12);
      expect(row.target_visits).toBeCloseTo(50, 9);
    }
  });

  it('reproduces a straight line away from the edges and adds the weekday deviation', () => {
    const area = rows.filter((row) => row.met_area === 11);
    // ratio(i) = i / 100. A symmetric weighted average of a line is the line (day 100 is ≥ 56 days from both edges).
    const i = 100;
    const row = area[i] as LabelRow;
    expect(row.ratio).toBeCloseTo(i / 100, 12);
    expect(row.smoothed_ratio).toBeCloseTo(i / 100, 12);
    const same = area.filter((_, j) => j % 7 === i % 7).map((_, k) => ((i % 7) + 7 * k) / 100);
    const all = area.map((_, j) => j / 100);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(row.seasonal_adjustment).toBeCloseTo(mean(same) - mean(all), 12);
    expect(row.target_ratio).toBeCloseTo(i / 100 + mean(same) - mean(all), 12);
  });

  it('renormalises the weights where the window runs past the first day', () => {
    const first = rows.find((row) => row.met_area === 11) as LabelRow;
    // Day 0 sees days 0..56 with weights 57..1: Σ w·(j/100) / Σ w.
    const weights = Array.from({ length: 57 }, (_, j) => 57 - j);
    const expected =
      weights.reduce((sum, w, j) => sum + (w * j) / 100, 0) / weights.reduce((a, b) => a + b, 0);
    expect(first.smoothed_ratio).toBeCloseTo(expected, 12);
  });
});

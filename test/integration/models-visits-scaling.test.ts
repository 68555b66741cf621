import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBigQueryActivities,
  dateParam,
  type BigQueryActivities,
  type QueryParams,
  type TableRef,
} from '../../activities/bigquery';
import { addDays } from '../../pipelines/core/dates';
import { generateSynthetic } from '../../pipelines/visits-scaling/synthetic/generate';
import { previousQuarter } from '../../pipelines/visits-scaling/synthetic/previous-quarter';
import { loadSynthetic } from '../../pipelines/visits-scaling/synthetic/load';
import { DATASETS, PREDICTION_SCHEMAS } from '../../pipelines/visits-scaling/schema';
import { renderSqlFile } from '../../activities/bigquery/sql';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

const run = promisify(execFile);
const modelsDir = resolve(__dirname, '..', '..', 'models');
const labels = { run_id: 'pipelines/visits-scaling/sql/test.sql', pipeline: 'visits-scaling', step: 'test' };
const scratch = 'smc_visits_scaling';
const source = (table: string): TableRef => ({ dataset: DATASETS.source, table });
const mine = (table: string): TableRef => ({ dataset: scratch, table });

describe('the visits-scaling pieces chained by hand: SQL → NDJSON → training → predictions → gap fill', () => {
  let bq: BigQueryHarness;
  let activities: BigQueryActivities;
  let dir: string;
  const data = generateSynthetic({
    seed: 3,
    metAreas: [0, 11, 22, 5],
    poisPerArea: 4,
    days: 150,
    panelFraction: 0.5,
  });
  const previous = previousQuarter(data);
  const cutoff = addDays(data.end, -10);
  const tables = {
    pois: source('pois'),
    visits: source('poi_visits_daily'),
    clusters: source('clusters_daily'),
    panel: source('real_visits_panel'),
  };

  const sqlToTable = (file: string, table: string, extra: Record<string, TableRef>, params: QueryParams) =>
    activities.queryToTable({
      sql: renderSqlFile(
        `pipelines/visits-scaling/sql/${file}.sql`,
        { ...tables, ...extra },
        bq.emulator.projectId,
      ),
      params,
      destination: mine(table),
      labels,
    });

  /** Exports `table`, trains `model` on it, predicts `predictOn` (default: the same rows), loads the predictions. */
  async function trainAndPredict(
    model: string,
    table: string,
    output: keyof typeof PREDICTION_SCHEMAS,
    predictOn = table,
  ) {
    const runDir = join(dir, model);
    const trainFile = join(runDir, 'inputs', `${table}.ndjson`);
    const predictFile = join(runDir, 'inputs', `${predictOn}.ndjson`);
    await activities.exportToFile({ table: mine(table), path: trainFile });
    if (predictOn !== table) await activities.exportToFile({ table: mine(predictOn), path: predictFile });
    const { stdout } = await run(
      'python3',
      [join(modelsDir, model, 'train.py'), 'train', '--data', trainFile, '--predict-data', predictFile],
      {
        env: {
          ...process.env,
          PYTHONDONTWRITEBYTECODE: '1',
          RUN_DIR: runDir,
          TRAIN_SECONDS: '30',
          TRAIN_STEPS: '40',
        },
      },
    );
    expect(stdout).toContain('done at step 40');
    return activities.loadFromFile({
      path: join(runDir, 'output', 'predictions.ndjson'),
      table: mine(`${output}_predictions_new`),
      schema: [...PREDICTION_SCHEMAS[output]],
      labels,
    });
  }

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    const config = bq.config;
    activities = createBigQueryActivities(bq.bigquery, config);
    dir = testTempDir('visits-scaling');
    await loadSynthetic(bq.bigquery, config, join(dir, 'data'), data, previous);
    await activities.ensureScratchDataset({ pipeline: 'visits-scaling' });
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('trains the four models on warehouse data and fills the gap of poi_visits_scaled after the cutoff', async () => {
    const at = { cutoff: dateParam(cutoff), holdout_days: 28 };
    const range = (from: string, to: string) => ({ from: dateParam(from), to: dateParam(to) });

    await sqlToTable('visits_share_data', 'visits_share_data', {}, at);
    // The held-out rows: every POI as of the cutoff, labelled with its share over the last 28 days.
    await sqlToTable('holdout', 'visits_share_holdout', { data: mine('visits_share_data') }, {});
    const splits = await activities.queryRows({
      sql: `SELECT split, COUNT(*) AS n FROM \`${scratch}.visits_share_data\` GROUP BY 1 ORDER BY 1`,
    });
    expect(splits.map((row) => row.split)).toEqual(['train', 'validation']);
    expect(
      (await trainAndPredict('visits-share', 'visits_share_data', 'visits_share', 'visits_share_holdout'))
        .rows,
    ).toBe(16);

    await sqlToTable('quality_labels', 'quality_labels', {}, at);
    await sqlToTable('quality_features', 'quality_features', {}, range(data.options.start, data.end));
    await sqlToTable(
      'quality_data',
      'quality_data',
      { labels: mine('quality_labels'), features: mine('quality_features') },
      {},
    );
    // Trained on the labelled areas up to the cutoff, predicted for every area and day (the gap too).
    const quality = await trainAndPredict('quality', 'quality_data', 'quality', 'quality_features');
    expect(quality.rows).toBe(4 * 150);

    const origin = { origin: dateParam(data.options.start), ...at };
    await sqlToTable('trend_data', 'trend_train', {}, { ...range(data.options.start, cutoff), ...origin });
    await sqlToTable('trend_data', 'trend_all', {}, { ...range(data.options.start, data.end), ...origin });
    expect((await trainAndPredict('trend', 'trend_train', 'trend', 'trend_all')).rows).toBe(4 * 150);
    // Trend's held-out window: the 28 days up to the cutoff, never fitted.
    const held = await activities.queryRows({
      sql: `SELECT MIN(day) AS first, MAX(day) AS last, COUNT(DISTINCT day) AS days FROM \`${scratch}.trend_train\` WHERE split = 'validation'`,
    });
    expect(held).toEqual([{ first: addDays(cutoff, -27), last: cutoff, days: 28 }]);

    const predictions = {
      visits_share_predictions: mine('visits_share_predictions_new'),
      quality_predictions: mine('quality_predictions_new'),
      trend_predictions: mine('trend_predictions_new'),
    };
    const gapFrom = addDays(cutoff, 1);
    await sqlToTable('real_visits_data', 'real_visits_train', predictions, {
      ...range(data.options.start, cutoff),
      ...at,
      panel_only: true,
    });
    await sqlToTable('real_visits_data', 'real_visits_gap', predictions, {
      ...range(gapFrom, data.end),
      ...at,
      panel_only: false,
    });
    await trainAndPredict('real-visits', 'real_visits_train', 'real_visits', 'real_visits_gap');

    const target = { dataset: DATASETS.production, table: 'poi_visits_scaled' };
    const before = await activities.queryRows({
      sql: 'SELECT COUNT(*) AS n FROM `visits_production.poi_visits_scaled`',
    });
    const merge = renderSqlFile(
      'pipelines/visits-scaling/sql/poi_visits_scaled_merge.sql',
      { target, predictions: mine('real_visits_predictions_new') },
      bq.emulator.projectId,
    );
    const params = { ...range(gapFrom, data.end), model_version: 'challenger' };
    await activities.runStatement({ sql: merge, params });
    const versions = await activities.queryRows({
      sql: 'SELECT model_version, MIN(day) AS first, MAX(day) AS last FROM `visits_production.poi_visits_scaled` GROUP BY 1 ORDER BY 2',
    });
    expect(versions).toEqual([
      { model_version: previous.version, first: data.options.start, last: cutoff },
      { model_version: 'challenger', first: gapFrom, last: data.end },
    ]);
    // Running the gap fill again changes nothing.
    await activities.runStatement({ sql: merge, params });
    expect(
      await activities.queryRows({ sql: 'SELECT COUNT(*) AS n FROM `visits_production.poi_visits_scaled`' }),
    ).toEqual(before);
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities, dateParam } from '../../activities/bigquery';
import { createRegistryActivities } from '../../activities/registry';
import { generateSynthetic } from '../../pipelines/visits-scaling/synthetic/generate';
import { previousQuarter } from '../../pipelines/visits-scaling/synthetic/previous-quarter';
import { loadSynthetic, registerPreviousModels } from '../../pipelines/visits-scaling/synthetic/load';
import { DATASETS } from '../../pipelines/visits-scaling/schema';
import { renderSqlFile } from '../../activities/bigquery/sql';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

describe('synthetic warehouse loaded into the emulator', () => {
  let bq: BigQueryHarness;
  let dir: string;
  let counts: Record<string, number>;
  const data = generateSynthetic({
    seed: 11,
    metAreas: [0, 11, 22, 5],
    poisPerArea: 3,
    days: 150,
    start: '2026-01-01',
  });
  const previous = previousQuarter(data);
  beforeAll(async () => {
    bq = await startBigQueryHarness();
    dir = testTempDir('synthetic');
    counts = await loadSynthetic(bq.bigquery, bq.config, dir, data, previous);
  });
  afterAll(async () => {
    await bq?.stop();
  });

  it('loads every table with exactly the generated rows', async () => {
    expect(counts).toEqual({
      'visits_source.pois': 12,
      'visits_source.clusters_daily': 4 * 150,
      'visits_source.poi_visits_daily': data.tables.poi_visits_daily.length,
      'visits_source.real_visits_panel': data.tables.real_visits_panel.length,
      'visits_production.visits_share_predictions': 12,
      'visits_production.quality_predictions': previous.tables.quality_predictions.length,
      'visits_production.trend_predictions': previous.tables.trend_predictions.length,
      'visits_production.poi_visits_scaled': previous.tables.poi_visits_scaled.length,
    });
    const activities = createBigQueryActivities(bq.bigquery, bq.config);
    const [sums] = await activities.queryRows({
      sql: `SELECT SUM(visits) AS visits, COUNTIF(near_home) AS home_rows FROM \`${DATASETS.source}.poi_visits_daily\``,
    });
    expect(sums).toEqual({
      visits: data.tables.poi_visits_daily.reduce((sum, r) => sum + Number(r.visits), 0),
      home_rows: data.tables.poi_visits_daily.filter((r) => r.near_home).length,
    });
  });

  it('feeds the quality labels query: the seed areas get labels, area 5 none', async () => {
    const activities = createBigQueryActivities(bq.bigquery, bq.config);
    await activities.ensureScratchDataset({ pipeline: 'visits-scaling' });
    const table = (name: string) => ({ dataset: DATASETS.source, table: name });
    const result = await activities.queryToTable({
      sql: renderSqlFile(
        'pipelines/visits-scaling/sql/quality_labels.sql',
        { pois: table('pois'), visits: table('poi_visits_daily'), clusters: table('clusters_daily') },
        bq.emulator.projectId,
      ),
      params: { cutoff: dateParam(previous.cutoff) },
      destination: { dataset: 'smc_visits_scaling', table: 'quality_labels_test' },
      labels: { run_id: 'r', pipeline: 'visits-scaling', step: 'quality.labels' },
    });
    const areas = await activities.queryRows({
      sql: 'SELECT met_area, split, COUNT(*) AS days FROM `smc_visits_scaling.quality_labels_test` GROUP BY 1, 2 ORDER BY 1',
    });
    const labelledDays = data.options.days - 91;
    expect(areas).toEqual([
      { met_area: 0, split: 'train', days: labelledDays },
      { met_area: 11, split: 'validation', days: labelledDays },
      { met_area: 22, split: 'train', days: labelledDays },
    ]);
    expect(result.rows).toBe(3 * labelledDays);
  });

  it("publishes the previous quarter's models with the production alias", async () => {
    const registryDir = join(dir, 'registry');
    await registerPreviousModels(registryDir, join(dir, 'models'), previous);
    const registry = createRegistryActivities(registryDir);
    for (const model of ['visits_share', 'quality', 'trend', 'real_visits']) {
      const production = await registry.getModelAlias({ model });
      expect(production?.version).toBe(previous.version);
      expect(production?.lineage.cutoff).toBe(previous.cutoff);
    }
  });
});

import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dateParam } from '../../activities/bigquery';
import { artifactDir, type KindDeps } from '../../activities/kinds/common';
import { addDays } from '../../pipelines/core';
import { gapfillKind } from '../../pipelines/visits-scaling/kinds/gapfill';
import type { PlannedStep } from '../../pipelines/core/types';
import type { RunStatus } from '../../workflows/definitions';
import { productionVersions, runToEnd, stepOf } from './visits-scaling-fixtures';
import { useVisitsScalingSuite } from './visits-scaling-suite';

/**
 * Issue 12, item 4: the gap fill at promotion covers the days from the cutoff + 1 through the last day
 * present in the source then (days that arrived during the run included), predicted by the promoted
 * models with features as of each day, and written all or nothing.
 */
describe('visits-scaling gap fill through the promotion day (local stack)', () => {
  const suite = useVisitsScalingSuite();
  let run: { workflowId: string; status: RunStatus };

  /** The source's last day of visits and of clusters. */
  const lastSourceDays = async () =>
    (
      await suite.warehouse.queryRows({
        sql: 'SELECT (SELECT MAX(day) FROM `visits_source.poi_visits_daily`) AS visits, (SELECT MAX(day) FROM `visits_source.clusters_daily`) AS clusters',
      })
    )[0];
  /** Appends `days` days after the source's last day: a copy of its last `days` days, shifted. */
  const appendSourceDays = async (days: number) => {
    const last = String((await lastSourceDays())?.visits);
    const params = { last: dateParam(last), days };
    await suite.warehouse.runStatement({
      sql: 'INSERT INTO `visits_source.poi_visits_daily` (day, poi_id, met_area, near_home, near_work, visits) SELECT DATE_ADD(day, INTERVAL @days DAY), poi_id, met_area, near_home, near_work, visits FROM `visits_source.poi_visits_daily` WHERE day > DATE_SUB(@last, INTERVAL @days DAY)',
      params,
    });
    await suite.warehouse.runStatement({
      sql: 'INSERT INTO `visits_source.clusters_daily` (day, met_area, clusters) SELECT DATE_ADD(day, INTERVAL @days DAY), met_area, clusters FROM `visits_source.clusters_daily` WHERE day > DATE_SUB(@last, INTERVAL @days DAY)',
      params,
    });
    expect(await lastSourceDays()).toEqual({ visits: addDays(last, days), clusters: addDays(last, days) });
    return addDays(last, days);
  };
  /** Every row of production's poi_visits_scaled, in a fixed order. */
  const scaledRows = () =>
    suite.warehouse.queryRows({
      sql: 'SELECT day, poi_id, met_area, visits_scaled, model_version FROM `visits_production.poi_visits_scaled` ORDER BY day, poi_id',
      maxRows: 100_000,
    });
  /** Every row of a production prediction table (quality, trend), in a fixed order. */
  const predictionRows = (model: 'quality' | 'trend') =>
    suite.warehouse.queryRows({
      sql: `SELECT * FROM \`visits_production.${model}_predictions\` ORDER BY day, met_area`,
      maxRows: 100_000,
    });
  /** Per day after `after`: met areas with clusters, and the rows and versions of a prediction table. */
  const predictionDays = (model: 'quality' | 'trend', after: string) =>
    suite.warehouse.queryRows({
      sql: `SELECT c.day, COUNT(DISTINCT c.met_area) AS areas, COUNT(p.met_area) AS rows, COUNT(DISTINCT p.model_version) AS versions, MIN(p.model_version) AS version
        FROM \`visits_source.clusters_daily\` AS c
        LEFT JOIN \`visits_production.${model}_predictions\` AS p ON p.met_area = c.met_area AND p.day = c.day
        WHERE c.day > @after AND c.clusters > 0
        GROUP BY c.day ORDER BY c.day`,
      params: { after: dateParam(after) },
    });
  /** Tables of a dataset whose names start with `prefix`. */
  const tablesIn = async (dataset: string, prefix: string) => {
    const [tables] = await suite.bq.bigquery.dataset(dataset).getTables();
    return tables.map((t) => t.id ?? '').filter((id) => id.startsWith(prefix));
  };

  it('fills the days that arrived during the run (after data prep, before promotion) with the promoted models', async () => {
    let appendedTo = '';
    const { workflowId, result, status } = await runToEnd(
      suite,
      { params: { require_approval: true } },
      async (waiting) => {
        // Every data, training and prediction step is done; the promotion waits for its approval.
        expect(stepOf(waiting, 'real_visits.train').state).toBe('succeeded');
        appendedTo = await appendSourceDays(3);
      },
    );
    run = { workflowId, status };
    expect(result.state).toBe('succeeded');
    const promoted = stepOf(status, 'promote').info as {
      promoted: boolean;
      versions: Record<string, string>;
    };
    expect(promoted.promoted).toBe(true);
    const from = addDays(suite.stack.warehouse.cutoff, 1);
    expect(stepOf(status, 'gapfill').info).toMatchObject({
      filled: true,
      from,
      to: appendedTo,
      lastSourceDay: appendedTo,
      skipped: 0,
      modelVersion: promoted.versions.real_visits,
    });
    // Up to the cutoff the previous quarter's rows; from the day after, the promoted model's, through
    // the last appended day: every POI with visits that day has its row (none predicted from a 0).
    const byVersion = await suite.warehouse.queryRows({
      sql: 'SELECT model_version, MIN(day) AS first, MAX(day) AS last FROM `visits_production.poi_visits_scaled` GROUP BY 1 ORDER BY 2',
    });
    expect(byVersion).toEqual([
      {
        model_version: suite.stack.warehouse.previousVersion,
        first: expect.any(String),
        last: suite.stack.warehouse.cutoff,
      },
      { model_version: promoted.versions.real_visits, first: from, last: appendedTo },
    ]);
    const perDay = await suite.warehouse.queryRows({
      sql: `SELECT v.day, v.pois, COUNT(s.poi_id) AS filled, SUM(IF(s.visits_scaled IS NULL, 1, 0)) AS empty
        FROM (SELECT day, COUNT(DISTINCT poi_id) AS pois FROM \`visits_source.poi_visits_daily\` WHERE day > @end GROUP BY day) AS v
        LEFT JOIN \`visits_production.poi_visits_scaled\` AS s ON s.day = v.day
        GROUP BY v.day, v.pois ORDER BY v.day`,
      params: { end: dateParam(suite.stack.warehouse.end) },
    });
    expect(perDay.map((row) => row.day)).toEqual([1, 2, 3].map((n) => addDays(suite.stack.warehouse.end, n)));
    for (const row of perDay) expect(row).toMatchObject({ filled: row.pois, empty: 0 });
    expect(await productionVersions(suite.stack.registryDir)).toEqual(promoted.versions);
    // The promoted quality and trend tables cover the same days: every met area with clusters has its
    // row from the promoted model on each day after the cutoff, the appended days included.
    for (const model of ['quality', 'trend'] as const) {
      const days = await predictionDays(model, suite.stack.warehouse.cutoff);
      expect(days.at(-1)?.day).toBe(appendedTo);
      expect(days.map((d) => d.day)).toContain(addDays(suite.stack.warehouse.end, 1));
      for (const day of days)
        expect(day).toMatchObject({ rows: day.areas, versions: 1, version: promoted.versions[model] });
    }
    expect(stepOf(status, 'gapfill').info).toMatchObject({
      predictions: {
        quality: { target: 'visits_production.quality_predictions', modelVersion: promoted.versions.quality },
        trend: { target: 'visits_production.trend_predictions', modelVersion: promoted.versions.trend },
      },
    });
    // The fill's scratch tables and the write's staging and backups are gone.
    expect(await tablesIn('smc_visits_scaling', 'gapfill_')).toEqual([]);
    for (const table of ['poi_visits_scaled', 'quality_predictions', 'trend_predictions'])
      expect(await tablesIn('visits_production', `${table}__`)).toEqual([]);
  }, 300_000);

  it('a failure in the middle of the fill leaves production as it was; the next fill goes through the new days', async () => {
    const planned = run.status.plan?.steps.find((s) => s.id === 'gapfill') as PlannedStep;
    const deps: KindDeps = {
      bigquery: suite.bq.bigquery,
      config: suite.bq.config,
      registryDir: suite.stack.registryDir,
      workDir: join(suite.stack.dir, 'work-gapfill'),
    };
    const handler = gapfillKind.handler!(deps);
    const execution = (spec: PlannedStep['spec'], attempt: number) => ({
      workflowId: run.workflowId,
      pipeline: 'visits-scaling',
      step: { ...planned, spec: gapfillKind.spec.parse(spec) },
      outputs: planned.outputs,
      inputs: {},
      attempt,
    });
    const context = { signal: new AbortController().signal, heartbeat: () => undefined };
    const appendedTo = await appendSourceDays(2);
    expect(await handler.outputsExist!(execution(planned.spec, 2))).toBe(false);

    // The promoted real-visits model, corrupted: its version checks out, its program fails to load it.
    // Visits share, quality and trend are predicted first, so the fill fails in its middle.
    const models = planned.spec.models as Record<string, { artifact: string; script: string }>;
    const broken = `${models.real_visits!.artifact}_broken`;
    cpSync(artifactDir(deps, models.real_visits!.artifact), artifactDir(deps, broken), { recursive: true });
    writeFileSync(join(artifactDir(deps, broken), 'model.json'), '{"not": "a model"}\n');
    const before = await scaledRows();
    const predictionsBefore = {
      quality: await predictionRows('quality'),
      trend: await predictionRows('trend'),
    };
    const failure = await handler
      .run(
        execution(
          {
            ...planned.spec,
            models: { ...models, real_visits: { ...models.real_visits!, artifact: broken } },
          },
          2,
        ),
        context,
      )
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: 'PipelineStepModelCommandFailed' });
    expect((failure as Error).message).toMatch(/real-visits\/train.py predict failed/);
    expect(await scaledRows()).toEqual(before);
    // The prediction tables too, though quality and trend were predicted before the failure.
    expect(await predictionRows('quality')).toEqual(predictionsBefore.quality);
    expect(await predictionRows('trend')).toEqual(predictionsBefore.trend);
    expect(await tablesIn('smc_visits_scaling', 'gapfill_')).toEqual([]);
    for (const table of ['poi_visits_scaled', 'quality_predictions', 'trend_predictions'])
      expect(await tablesIn('visits_production', `${table}__`)).toEqual([]);
    // Nor any file on the worker: the exports and predictions of the fill are gone.
    expect(readdirSync(join(deps.workDir, 'gapfill'))).toEqual([]);

    // A failure after quality's new table was staged (trend's write names a table that is not there):
    // still nothing of it reaches production.
    const tables = planned.spec.prediction_tables as Record<string, { target: string; write: string }>;
    const late = await handler
      .run(
        execution(
          {
            ...planned.spec,
            prediction_tables: {
              ...tables,
              trend: { ...tables.trend!, target: 'visits_production.trend_predictions_missing' },
            },
          },
          2,
        ),
        context,
      )
      .catch((error: unknown) => error);
    expect(late).toMatchObject({ type: 'BigQueryTableNotFound' });
    expect(await scaledRows()).toEqual(before);
    expect(await predictionRows('quality')).toEqual(predictionsBefore.quality);
    expect(await predictionRows('trend')).toEqual(predictionsBefore.trend);
    expect(await tablesIn('smc_visits_scaling', 'gapfill_')).toEqual([]);
    for (const table of ['poi_visits_scaled', 'quality_predictions', 'trend_predictions'])
      expect(await tablesIn('visits_production', `${table}__`)).toEqual([]);

    // The same step again with the promoted model fills through the new last day.
    const done = await handler.run(execution(planned.spec, 3), context);
    expect(done?.info).toMatchObject({ filled: true, to: appendedTo, skipped: 0 });
    const [last] = await suite.warehouse.queryRows({
      sql: 'SELECT MAX(day) AS last, COUNT(DISTINCT model_version) AS versions FROM `visits_production.poi_visits_scaled` WHERE day > @cutoff',
      params: { cutoff: dateParam(suite.stack.warehouse.cutoff) },
    });
    expect(last).toEqual({ last: appendedTo, versions: 1 });
    for (const model of ['quality', 'trend'] as const)
      expect((await predictionDays(model, suite.stack.warehouse.cutoff)).at(-1)).toMatchObject({
        day: appendedTo,
        versions: 1,
      });
    expect(await handler.outputsExist!(execution(planned.spec, 3))).toBe(true);
    // Another version in a filled day of a prediction table: the fill is not done any more.
    await suite.warehouse.runStatement({
      sql: "UPDATE `visits_production.trend_predictions` SET model_version = 'other' WHERE day = @day",
      params: { day: dateParam(appendedTo) },
    });
    expect(await handler.outputsExist!(execution(planned.spec, 3))).toBe(false);
  }, 180_000);
});

import { asyncLocalStorage } from '@temporalio/activity';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createBigQueryActivities,
  dateParam,
  type BigQueryActivities,
  type QueryParams,
  type TableRef,
} from '../../../activities/bigquery';
import { resolveTable, tableSql } from '../../../activities/bigquery/identifiers';
import { isSqlPath, renderSql } from '../../../activities/bigquery/sql';
import { parseTableName } from '../../../activities/bigquery/steps';
import { readCodeFile } from '../../../activities/code-files';
import {
  artifactDir,
  failure,
  PipelineStepErrorType,
  pinnedCodeOf,
  readJson,
  readModelArtifact,
  runLabels,
  shortHash,
  type KindDeps,
} from '../../../activities/kinds/common';
import { defineKind } from '../../../activities/kinds/kind';
import { predictToTable, writeArtifact } from '../../../activities/kinds/models';
import { recordOf, type PromotionRecord } from '../../../activities/kinds/release';
import { modelProgram } from '../../../activities/kinds/program';
import { dateString, name, programFolder } from '../../../activities/kinds/schemas';
import type { TypedExecution } from '../../../activities/steps';
import { addDays, type JsonObject } from '../../core';
import { PREDICTION_SCHEMAS } from '../schema';

interface GapFillRecord {
  filled: boolean;
  from?: string;
  to?: string;
  modelVersion?: string;
  /** Version 4: the prediction tables filled for the same days, with their model's version. */
  predictions?: Record<string, { target: string; modelVersion: string; rows: number }>;
}

const sqlPath = z
  .string()
  .refine(isSqlPath, { error: 'expected a path like pipelines/<name>/sql/<file>.sql' });
const model = z.strictObject({
  /** The model's training output (`{{steps.<model>.train.model}}`): the version promote published. */
  artifact: name,
  /** Its program (`models/<folder>/train.py`), run as `<script> predict` at the pinned commit. */
  script: name,
});

/** A production prediction table filled for the gap's days, and the query writing its whole new content. */
const predictionTable = z.strictObject({
  /** The production table (`{{production_dataset}}.<model>_predictions`, what promote replaced). */
  target: name,
  /** Its rows outside the gap plus the promoted model's predictions for it (`@from`, `@to`). */
  write: sqlPath,
});

/**
 * The spec of `gapfill` (kind version 4; version 3 plans, still in flight, lack `prediction_tables`):
 * everything the fill reads, so all of it is in the key.
 */
export const gapfillSpec = z.strictObject({
  /** The promotion record (`{{steps.promote.record}}`): nothing is filled unless it promoted. */
  promotion: name,
  /** The production table whose gap is filled (poi_visits_scaled). */
  target: name,
  /** The run's cutoff (`'{{cutoff}}'`): the gap starts the day after. */
  cutoff: dateString,
  /** The last day ever filled (`'{{predict_until}}'`); else the last day present in the source. */
  until: dateString,
  /** Source tables the features are computed from, as of each day of the gap. */
  sources: z.strictObject({ pois: name, visits: name, clusters: name }),
  /** The four models; each must be the version the promotion published. */
  models: z.strictObject({ visits_share: model, quality: model, trend: model, real_visits: model }),
  /** The trend features' fixed origin (day t = 0) and held-out days (as in trend_data.sql). */
  trend: z.strictObject({ origin: dateString, holdout_days: z.coerce.number().int().nonnegative() }),
  /** The queries, files of the step's repository (their text at the pinned commit is in the key). */
  sql: z.strictObject({
    /** Visits share features per POI and day (`@from`, `@to`). */
    visits_share: sqlPath,
    /** Quality features per met area and day (`@from`, `@to`). */
    quality: sqlPath,
    /** Trend rows per met area and day (`@from`, `@to`, `@origin`, `@cutoff`, `@holdout_days`). */
    trend: sqlPath,
    /** Real visits rows from the three predictions of the same day (`@from`, `@to`). */
    real_visits: sqlPath,
    /** The whole new target: its rows outside the gap plus the predictions (`@from`, `@to`, `@model_version`). */
    write: sqlPath,
  }),
  /**
   * The promoted prediction tables (quality, trend: per met area and day) filled for the same days
   * and put in place with the target in one promotion. Absent in plans of version 3: only the target.
   */
  prediction_tables: z.strictObject({ quality: predictionTable, trend: predictionTable }).optional(),
  /** The programs' folder in the step's repository (checked out at the pinned commit). */
  code: programFolder,
});

/**
 * The spec of version 2, still in the plans of runs started before version 3: a MERGE of
 * predictions made during the run. Such a run in flight fills its gap the way it was planned.
 */
export const legacyGapfillSpec = z.strictObject({
  promotion: name,
  predictions: name,
  target: name,
  sql: sqlPath,
  version_of: name,
  cutoff: dateString,
});

type Spec = z.infer<typeof gapfillSpec>;
type LegacySpec = z.infer<typeof legacyGapfillSpec>;
type ModelName = keyof Spec['models'];
const isLegacy = (spec: Spec | LegacySpec): spec is LegacySpec => typeof spec.sql === 'string';

/**
 * `gapfill`, visits-scaling's own kind (seed 000: the gap a multi-day run leaves between its cutoff
 * and its promotion). After a promotion, the days from the cutoff + 1 through the last day present in
 * the source now (not at the run's start) are predicted by the promoted models, with features as of
 * each day, and written all or nothing: the new table is built in a scratch table and replaces the
 * production one through one verified copy (the promotion's stage / commit); a failure before that
 * leaves production as it was. Scratch tables of the fill are deleted whatever happens.
 */
export const gapfillKind = defineKind({
  name: 'gapfill',
  version: '4',
  runs: { by: 'activity' },
  spec: z.union([gapfillSpec, legacyGapfillSpec]),
  reads: (spec) =>
    isLegacy(spec)
      ? [spec.sql]
      : [
          ...Object.values(spec.sql),
          ...Object.values(spec.prediction_tables ?? {}).map((table) => table.write),
        ],
  // Version 2 ran no program of its own; its plans keyed the whole models/ folder.
  program: (spec) =>
    isLegacy(spec)
      ? { paths: ['models'] }
      : modelProgram(
          spec.code,
          Object.values(spec.models).map((model) => model.script),
        ),
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    const project = deps.config.BIGQUERY_PROJECT;
    /** The days to fill now: from the day after the cutoff through the source's last day (≤ until). */
    const gapOf = async (spec: Spec) => {
      const last = await lastSourceDay(warehouse, spec, project);
      const to = last && last < spec.until ? last : spec.until;
      return { from: addDays(spec.cutoff, 1), to, last };
    };
    return {
      async run(execution, context) {
        const spec = execution.step.spec;
        checkTables(execution.step.id, spec, project);
        const promotion = recordOf(deps, spec.promotion);
        let record: JsonObject;
        if (!promotion?.promoted)
          record = { filled: false, reason: 'nothing was promoted, production keeps its gap fill' };
        else if (isLegacy(spec))
          record = await legacyFill(
            deps,
            warehouse,
            { ...execution, step: { ...execution.step, spec } },
            promotion,
          );
        else {
          const gap = await gapOf(spec);
          record =
            !gap.last || gap.to < gap.from
              ? { filled: false, reason: `no source day after the cutoff ${spec.cutoff}`, from: gap.from }
              : await fill(deps, warehouse, { ...execution, step: { ...execution.step, spec } }, promotion, {
                  ...gap,
                  signal: context.signal,
                  heartbeat: (phase) => context.heartbeat({ phase }),
                });
        }
        writeArtifact(deps, execution, 'record', 'gapfill.json', record);
        return { info: record };
      },
      /**
       * Done when it followed the promotion, the filled days still carry the promoted version, and
       * no source day arrived after the last day it filled (else it fills again, through that day).
       */
      async outputsExist(execution) {
        const spec = execution.step.spec;
        checkTables(execution.step.id, spec, project);
        const record = readJson<GapFillRecord>(
          join(artifactDir(deps, execution.outputs.record ?? ''), 'gapfill.json'),
        );
        const promotion = recordOf(deps, spec.promotion);
        if (!record || !promotion) return false;
        if (!promotion.promoted) return !record.filled;
        const version = promotion.versions[isLegacy(spec) ? spec.version_of : 'real_visits'];
        if (!version || !record.filled || record.modelVersion !== version || !record.from || !record.to)
          return false;
        if (!isLegacy(spec) && (await gapOf(spec)).to > record.to) return false;
        const { from, to } = record;
        /** Rows of the filled days in `table` that another version wrote (a later fill or promotion). */
        const others = async (table: string, modelVersion: string) => {
          const [row] = await warehouse.queryRows({
            sql: `SELECT COUNT(*) AS n FROM ${tableSql(parseTableName(table), project)} WHERE day BETWEEN @from AND @to AND model_version != @version`,
            params: { from: dateParam(from), to: dateParam(to), version: modelVersion },
          });
          return Number(row?.n);
        };
        if ((await others(spec.target, version)) !== 0) return false;
        if (isLegacy(spec) || !spec.prediction_tables) return true;
        for (const [model, table] of Object.entries(spec.prediction_tables)) {
          const filled = record.predictions?.[model];
          const promoted = promotion.versions[model];
          if (!filled || !promoted || filled.target !== table.target || filled.modelVersion !== promoted)
            return false;
          if ((await others(table.target, promoted)) !== 0) return false;
        }
        return true;
      },
    };
  },
});

/**
 * Every table the spec names, checked as identifiers before the fill does anything (no warehouse
 * call, no prediction): a name that could break out of SQL fails the step at once, naming the field.
 */
function checkTables(step: string, spec: Spec | LegacySpec, project: string): void {
  const tables: Record<string, string> = isLegacy(spec)
    ? { target: spec.target, predictions: spec.predictions }
    : {
        target: spec.target,
        'sources.pois': spec.sources.pois,
        'sources.visits': spec.sources.visits,
        'sources.clusters': spec.sources.clusters,
      };
  for (const [field, value] of Object.entries(tables)) {
    try {
      resolveTable(parseTableName(value), project);
    } catch (error) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `step ${step}: spec.${field}: ${(error as Error).message}`,
      );
    }
  }
}

/** The last day both daily sources (visits, clusters) have rows for; undefined when either is empty. */
async function lastSourceDay(
  warehouse: BigQueryActivities,
  spec: Spec,
  project: string,
): Promise<string | undefined> {
  const table = (name: string) => tableSql(parseTableName(name), project);
  const [row] = await warehouse.queryRows({
    sql: `SELECT (SELECT MAX(day) FROM ${table(spec.sources.visits)}) AS visits, (SELECT MAX(day) FROM ${table(spec.sources.clusters)}) AS clusters`,
  });
  const visits = row?.visits ? String(row.visits) : undefined;
  const clusters = row?.clusters ? String(row.clusters) : undefined;
  if (!visits || !clusters) return undefined;
  return visits < clusters ? visits : clusters;
}

/** Fills `from`..`to` (see gapfillKind). */
async function fill(
  deps: KindDeps,
  warehouse: BigQueryActivities,
  execution: TypedExecution<Spec>,
  promotion: PromotionRecord,
  gap: {
    from: string;
    to: string;
    last: string | undefined;
    signal: AbortSignal;
    heartbeat: (phase: string) => void;
  },
): Promise<JsonObject> {
  const { spec } = execution.step;
  const project = deps.config.BIGQUERY_PROJECT;
  // The promoted models, and no other: each artifact must be the version promote published.
  for (const [model, { artifact }] of Object.entries(spec.models)) {
    const version = readModelArtifact(deps, artifact).version;
    if (promotion.versions[model] !== version) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `step ${execution.step.id}: ${model} ${version} is not the promoted version (${promotion.versions[model] ?? 'none'})`,
      );
    }
  }
  const version = promotion.versions.real_visits as string;
  const labels = runLabels(execution);
  const { dataset } = await warehouse.ensureScratchDataset({ pipeline: execution.pipeline });
  // Names of this execution alone: two runs (or two attempts) never share a scratch table.
  const suffix = shortHash(`${execution.workflowId}/${execution.step.id}/${execution.attempt}`);
  const created: TableRef[] = [];
  const scratch = (part: string): TableRef => {
    const table = { dataset, table: `gapfill_${part}_${suffix}` };
    created.push(table);
    return table;
  };
  const range: QueryParams = { from: dateParam(gap.from), to: dateParam(gap.to) };
  const query = async (
    file: string,
    part: string,
    tables: Record<string, TableRef>,
    params: QueryParams = range,
  ) => {
    gap.heartbeat(part);
    const sql = renderSql(await readCodeFile(execution.step, file, gap.signal), tables, project, file);
    const { table, rows } = await warehouse.queryToTable({ sql, params, destination: scratch(part), labels });
    return { table, rows };
  };
  const predict = async (model: ModelName, source: TableRef, keep: string[] = []) => {
    const { artifact, script } = spec.models[model];
    const schema = [
      ...PREDICTION_SCHEMAS[model].map((field) => ({ ...field })),
      ...keep.map((column) => ({ name: column, type: 'DATE' })),
    ];
    const destination = scratch(`${model}_predictions`);
    const { rows, version } = await predictToTable(deps, {
      script,
      artifact,
      source,
      destination,
      schema,
      keep,
      dir: join(deps.workDir, execution.step.id, suffix, model),
      labels,
      code: pinnedCodeOf(execution, spec.code),
      signal: gap.signal,
      heartbeat: () => gap.heartbeat(`predict ${model}`),
    });
    return { table: destination, rows, version };
  };
  const sources = {
    pois: parseTableName(spec.sources.pois),
    visits: parseTableName(spec.sources.visits),
    clusters: parseTableName(spec.sources.clusters),
  };
  const target = parseTableName(spec.target);
  try {
    const share = await query(spec.sql.visits_share, 'visits_share_features', {
      pois: sources.pois,
      visits: sources.visits,
    });
    const quality = await query(spec.sql.quality, 'quality_features', sources);
    const trend = await query(
      spec.sql.trend,
      'trend_features',
      { visits: sources.visits, clusters: sources.clusters },
      {
        ...range,
        origin: dateParam(spec.trend.origin),
        cutoff: dateParam(spec.cutoff),
        holdout_days: spec.trend.holdout_days,
      },
    );
    const predicted = {
      quality: await predict('quality', quality.table),
      trend: await predict('trend', trend.table),
    };
    const rows = await query(spec.sql.real_visits, 'real_visits_rows', {
      visits: sources.visits,
      visits_share: (await predict('visits_share', share.table, ['day'])).table,
      quality: predicted.quality.table,
      trend: predicted.trend.table,
    });
    const predictions = (await predict('real_visits', rows.table)).table;
    const staging = await query(
      spec.sql.write,
      'staging',
      { target, predictions },
      { ...range, model_version: version },
    );
    // The promoted prediction tables: their rows outside the gap, the promoted models' inside it.
    const tables = [{ source: staging.table, target }];
    const filledPredictions: NonNullable<GapFillRecord['predictions']> = {};
    for (const [model, table] of Object.entries(spec.prediction_tables ?? {}) as [
      keyof typeof predicted,
      z.infer<typeof predictionTable>,
    ][]) {
      const written = await query(table.write, `${model}_staging`, {
        target: parseTableName(table.target),
        predictions: predicted[model].table,
      });
      tables.push({ source: written.table, target: parseTableName(table.target) });
      filledPredictions[model] = {
        target: table.target,
        modelVersion: predicted[model].version,
        rows: predicted[model].rows,
      };
    }
    const [observed] = await warehouse.queryRows({
      sql: `SELECT COUNT(*) AS n FROM (SELECT DISTINCT poi_id, day FROM ${tableSql(sources.visits, project)} WHERE day BETWEEN @from AND @to)`,
      params: range,
    });
    // All or nothing: one promotion puts every staging table in place, each by one verified copy;
    // a failure restores every target it had replaced.
    gap.heartbeat('write');
    await warehouse.promoteTables({
      promotionId: `g_${shortHash(`${execution.workflowId}/${execution.step.cacheKey}`, 16)}`,
      tables,
      labels,
    });
    return {
      filled: true,
      from: gap.from,
      to: gap.to,
      lastSourceDay: gap.last ?? null,
      rows: rows.rows,
      // POI-days with visits but without every feature (e.g. a day without clusters): not predicted.
      skipped: Number(observed?.n ?? 0) - rows.rows,
      modelVersion: version,
      ...(spec.prediction_tables ? { predictions: filledPredictions } : {}),
    };
  } finally {
    rmSync(join(deps.workDir, execution.step.id, suffix), { recursive: true, force: true });
    // Never masks the fill's own error; a table left behind is labelled and expires with the dataset.
    await warehouse.deleteTables({ tables: created }).catch((error: unknown) => {
      asyncLocalStorage.getStore()?.log.warn('gap fill: scratch tables not deleted', {
        tables: created.map((t) => `${t.dataset}.${t.table}`),
        error: String(error),
      });
    });
  }
}

/** Version 2's fill (runs planned before version 3): MERGE of the run's own predictions. */
async function legacyFill(
  deps: KindDeps,
  warehouse: BigQueryActivities,
  execution: TypedExecution<LegacySpec>,
  promotion: PromotionRecord,
): Promise<JsonObject> {
  const spec = execution.step.spec;
  const predictions = parseTableName(spec.predictions);
  const from = addDays(spec.cutoff, 1);
  const [range] = await warehouse.queryRows({
    // tableSql checks every part against the identifier patterns before it reaches SQL.
    sql: `SELECT MAX(day) AS last FROM ${tableSql(predictions, deps.config.BIGQUERY_PROJECT)} WHERE day >= @from`,
    params: { from: dateParam(from) },
  });
  const to = range?.last ? String(range.last) : undefined;
  if (!to) return { filled: false, reason: `no prediction after the cutoff ${spec.cutoff}` };
  const version = promotion.versions[spec.version_of] ?? 'unknown';
  const sql = renderSql(
    await readCodeFile(execution.step, spec.sql),
    { target: parseTableName(spec.target), predictions },
    deps.config.BIGQUERY_PROJECT,
    spec.sql,
  );
  const { affectedRows } = await warehouse.runStatement({
    sql,
    params: { from: dateParam(from), to: dateParam(to), model_version: version },
    what: `gap fill of ${spec.target} from ${from} to ${to}`,
  });
  return { filled: true, from, to, affectedRows, modelVersion: version };
}

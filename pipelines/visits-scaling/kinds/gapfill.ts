import { ApplicationFailure } from '@temporalio/common';
import { join, resolve } from 'node:path';
import {
  createBigQueryActivities,
  dateParam,
  type QueryParams,
  type TableRef,
} from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { renderSqlFile } from '../../../activities/bigquery/sql';
import { parseTableName } from '../../../activities/bigquery/steps';
import {
  artifactDir,
  pinnedCodeOf,
  readJson,
  readModelArtifact,
  runLabels,
  shortHash,
  specObject,
  specString,
  str,
  type KindDeps,
} from '../../../activities/kinds/common';
import { predictIntoTable, writeArtifact } from '../../../activities/kinds/models';
import { recordOf } from '../../../activities/kinds/release';
import type { StepExecution, StepHandlers } from '../../../activities/steps';
import { addDays, type JsonObject } from '../../core';
import { PREDICTION_SCHEMAS } from '../schema';

/** Failure types of the gap fill. */
export enum GapFillErrorType {
  /** A day of the gap lacks a feature (a met area without quality or trend): nothing is written. */
  FEATURES_MISSING = 'GapFillFeaturesMissing',
}

interface GapFillRecord {
  filled: boolean;
  from?: string;
  to?: string;
  modelVersion?: string;
  reason?: string;
}

/** The models the gap fill runs: the promoted quality, trend and real visits. */
type GapModel = 'quality' | 'trend' | 'real_visits';

/**
 * `gapfill`, visits-scaling's own kind, run after the promotion (seed 000's "gaps after multi-day
 * runs"): the days from the cutoff + 1 through the last day present in the sources (now, not when
 * the run's predict steps ran) are predicted by the promoted models, with features computed as of
 * each day from the sources as they are at promotion: quality and trend features per met area and
 * day, their predictions by the promoted quality and trend models, then real visits' rows on those
 * predictions (visits share is per POI: the promoted table, as of the cutoff) and its predictions.
 * Everything is computed into scratch tables first; one MERGE then replaces the days of
 * `poi_visits_scaled` (all or nothing: production is untouched until every day is computed, and a
 * missing feature fails the step before the MERGE).
 */
export function gapfillStepHandlers(deps: KindDeps): StepHandlers {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const project = deps.config.BIGQUERY_PROJECT;

  /** The last day every source the features need has: poi_visits_daily and clusters_daily. */
  const lastSourceDay = async (execution: Pick<StepExecution, 'step'>): Promise<string | undefined> => {
    const tables = specObject(execution.step.spec, 'tables', execution.step.id);
    const [row] = await warehouse.queryRows({
      sql: `SELECT LEAST((SELECT MAX(day) FROM ${tableSql(parseTableName(str(tables.visits)), project)}), (SELECT MAX(day) FROM ${tableSql(parseTableName(str(tables.clusters)), project)})) AS last`,
    });
    return row?.last ? String(row.last) : undefined;
  };

  return {
    gapfill: {
      async run(execution, context) {
        const spec = execution.step.spec;
        const promotion = recordOf(deps, specString(execution, 'promotion'));
        const cutoff = specString(execution, 'cutoff');
        const from = addDays(cutoff, 1);
        const createdTables: string[] = [];
        const fill = async (): Promise<GapFillRecord & JsonObject> => {
          if (!promotion?.promoted)
            return { filled: false, reason: 'nothing was promoted, production keeps its gap fill' };
          const to = await lastSourceDay(execution);
          if (!to || to < from) return { filled: false, reason: `no source day after the cutoff ${cutoff}` };
          const tables = specObject(spec, 'tables', execution.step.id);
          const models = specObject(spec, 'models', execution.step.id);
          const { dataset } = await warehouse.ensureScratchDataset({ pipeline: execution.pipeline });
          // Scratch names from the step's key and the window, so a retry or a later fill never meets them.
          const scratch = (what: string): TableRef => ({
            dataset,
            table: `gapfill_${what}_${shortHash(`${execution.step.cacheKey}/${execution.workflowId}/${to}`)}`,
          });
          const labels = runLabels(execution);
          const source = (name: string) => parseTableName(str(tables[name]));
          const params: QueryParams = {
            from: dateParam(from),
            to: dateParam(to),
            cutoff: dateParam(cutoff),
            holdout_days: Number(spec.holdout_days ?? 0),
          };
          const query = async (
            file: string,
            what: string,
            placeholders: Record<string, TableRef>,
            extra: QueryParams,
          ) => {
            const destination = scratch(what);
            context.heartbeat({ phase: 'features', table: destination.table });
            await warehouse.queryToTable({
              sql: renderSqlFile(specString(execution, file), placeholders, project),
              params: extra,
              destination,
              labels,
            });
            createdTables.push(`${destination.dataset}.${destination.table}`);
            return destination;
          };
          const predict = async (model: GapModel, data: TableRef) => {
            const entry = specObject(models, model, execution.step.id);
            const artifact = str(entry.artifact);
            const destination = scratch(`${model}_predictions`);
            context.heartbeat({ phase: 'predict', model });
            await predictIntoTable(deps, {
              script: str(entry.script),
              artifact,
              version: readModelArtifact(deps, artifact).version,
              data,
              destination,
              schema: PREDICTION_SCHEMAS[model].map((field) => ({ ...field })),
              labels,
              dir: join(
                resolve(deps.workDir),
                execution.step.id,
                shortHash(`${execution.workflowId}/${model}`),
              ),
              signal: context.signal,
              code: pinnedCodeOf(execution),
            });
            createdTables.push(`${destination.dataset}.${destination.table}`);
            return destination;
          };

          const sourceTables = {
            pois: source('pois'),
            visits: source('visits'),
            clusters: source('clusters'),
          };
          const qualityFeatures = await query(
            'quality_features_sql',
            'quality_features',
            sourceTables,
            params,
          );
          const trendFeatures = await query('trend_sql', 'trend_features', sourceTables, {
            ...params,
            origin: dateParam(specString(execution, 'trend_origin')),
          });
          const quality = await predict('quality', qualityFeatures);
          const trend = await predict('trend', trendFeatures);
          const realVisitsData = await query(
            'real_visits_sql',
            'real_visits_rows',
            {
              visits: source('visits'),
              panel: source('panel'),
              visits_share_predictions: parseTableName(specString(execution, 'visits_share_predictions')),
              quality_predictions: quality,
              trend_predictions: trend,
            },
            { ...params, panel_only: false },
          );
          // Every met area and day with visits has its quality and trend prediction (real visits'
          // query would read a missing one as 0): else nothing is written.
          const [missing] = await warehouse.queryRows({
            sql: `SELECT COUNT(*) AS n, MIN(v.day) AS first FROM (SELECT DISTINCT met_area, day FROM ${tableSql(source('visits'), project)} WHERE day BETWEEN @from AND @to) AS v LEFT JOIN ${tableSql(quality, project)} AS q ON q.met_area = v.met_area AND q.day = v.day LEFT JOIN ${tableSql(trend, project)} AS t ON t.met_area = v.met_area AND t.day = v.day WHERE q.met_area IS NULL OR t.met_area IS NULL`,
            params: { from: dateParam(from), to: dateParam(to) },
          });
          if (Number(missing?.n) > 0) {
            throw ApplicationFailure.create({
              type: GapFillErrorType.FEATURES_MISSING,
              message: `gap fill ${from}..${to}: ${String(missing?.n)} met area days (first ${String(missing?.first)}) have visits but no quality or trend features; nothing was written`,
              nonRetryable: true,
            });
          }
          const realVisits = await predict('real_visits', realVisitsData);
          const version = promotion.versions[specString(execution, 'version_of')] ?? 'unknown';
          context.heartbeat({ phase: 'merge', from, to });
          const { affectedRows } = await warehouse.runStatement({
            sql: renderSqlFile(
              specString(execution, 'sql'),
              { target: parseTableName(specString(execution, 'target')), predictions: realVisits },
              project,
            ),
            params: { from: dateParam(from), to: dateParam(to), model_version: version },
            what: `gap fill of ${specString(execution, 'target')} from ${from} to ${to}`,
          });
          return { filled: true, from, to, affectedRows, modelVersion: version };
        };
        const record = await fill();
        writeArtifact(deps, execution, 'record', 'gapfill.json', record);
        return { info: { ...record, createdTables } };
      },
      /**
       * Done when it followed the promotion, filled through the sources' last day (a day appended
       * since is a reason to fill again), and the filled days still carry the promoted version.
       */
      async outputsExist(execution) {
        const record = readJson<GapFillRecord>(
          join(artifactDir(deps, str(execution.outputs.record)), 'gapfill.json'),
        );
        const promotion = recordOf(deps, specString(execution, 'promotion'));
        if (!record || !promotion) return false;
        if (!promotion.promoted) return !record.filled;
        const version = promotion.versions[specString(execution, 'version_of')];
        if (!version || !record.filled || record.modelVersion !== version || !record.from || !record.to)
          return false;
        const last = await lastSourceDay(execution);
        if (last && last > record.to) return false;
        const target = parseTableName(specString(execution, 'target'));
        const [row] = await warehouse.queryRows({
          sql: `SELECT COUNT(*) AS n FROM ${tableSql(target, project)} WHERE day BETWEEN @from AND @to AND model_version != @version`,
          params: { from: dateParam(record.from), to: dateParam(record.to), version },
        });
        return Number(row?.n) === 0;
      },
    },
  };
}

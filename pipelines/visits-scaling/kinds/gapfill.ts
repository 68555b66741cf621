import { join } from 'node:path';
import { z } from 'zod';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { isSqlPath, renderSql } from '../../../activities/bigquery/sql';
import { parseTableName } from '../../../activities/bigquery/steps';
import { readCodeFile } from '../../../activities/code-files';
import { artifactDir, readJson, type KindDeps } from '../../../activities/kinds/common';
import { defineKind } from '../../../activities/kinds/kind';
import { writeArtifact } from '../../../activities/kinds/models';
import { recordOf } from '../../../activities/kinds/release';
import { dateString, name } from '../../../activities/kinds/schemas';
import { addDays, type JsonObject } from '../../core';

interface GapFillRecord {
  filled: boolean;
  from?: string;
  to?: string;
  modelVersion?: string;
}

/** The spec of `gapfill`. */
export const gapfillSpec = z.strictObject({
  /** The promotion record (`{{steps.promote.record}}`). */
  promotion: name,
  /** The new model's predictions, from the day after the cutoff. */
  predictions: name,
  /** The production table whose gap is filled. */
  target: name,
  /** The MERGE, a file of the step's repository (its text is in the cache key). */
  sql: z.string().refine(isSqlPath, { error: 'expected a path like pipelines/<name>/sql/<file>.sql' }),
  /** Which promoted model's version the filled rows carry. */
  version_of: name,
  /** The run's cutoff (`'{{cutoff}}'`): the gap starts the day after. */
  cutoff: dateString,
});

/**
 * `gapfill`, visits-scaling's own kind: after a promotion, recompute the days of
 * `poi_visits_scaled` between the cutoff and the last predicted day with the promoted real-visits
 * model (the gap a multi-day run leaves, seed 000).
 */
export const gapfillKind = defineKind({
  name: 'gapfill',
  version: '2',
  runs: { by: 'activity' },
  spec: gapfillSpec,
  reads: (spec) => [spec.sql],
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    return {
      async run(execution, context) {
        const spec = execution.step.spec;
        const promotion = recordOf(deps, spec.promotion);
        const fill = async (): Promise<JsonObject> => {
          if (!promotion?.promoted)
            return { filled: false, reason: 'nothing was promoted, production keeps its gap fill' };
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
            await readCodeFile(execution.step, spec.sql, context.signal),
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
        };
        const record = await fill();
        writeArtifact(deps, execution, 'record', 'gapfill.json', record);
        return { info: record };
      },
      /** Done when it followed the promotion, and the filled days still carry the promoted version. */
      async outputsExist(execution) {
        const spec = execution.step.spec;
        const record = readJson<GapFillRecord>(
          join(artifactDir(deps, execution.outputs.record ?? ''), 'gapfill.json'),
        );
        const promotion = recordOf(deps, spec.promotion);
        if (!record || !promotion) return false;
        if (!promotion.promoted) return !record.filled;
        const version = promotion.versions[spec.version_of];
        if (!version || !record.filled || record.modelVersion !== version || !record.from || !record.to)
          return false;
        const target = parseTableName(spec.target);
        const [row] = await warehouse.queryRows({
          sql: `SELECT COUNT(*) AS n FROM ${tableSql(target, deps.config.BIGQUERY_PROJECT)} WHERE day BETWEEN @from AND @to AND model_version != @version`,
          params: { from: dateParam(record.from), to: dateParam(record.to), version },
        });
        return Number(row?.n) === 0;
      },
    };
  },
});

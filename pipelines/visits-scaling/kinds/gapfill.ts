import { join } from 'node:path';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { renderSqlFile } from '../../../activities/bigquery/sql';
import { parseTableName } from '../../../activities/bigquery/steps';
import { artifactDir, readJson, specString, str, type KindDeps } from '../../../activities/kinds/common';
import { writeArtifact } from '../../../activities/kinds/models';
import { recordOf } from '../../../activities/kinds/release';
import type { StepHandlers } from '../../../activities/steps';
import { addDays, type JsonObject } from '../../core';

interface GapFillRecord {
  filled: boolean;
  from?: string;
  to?: string;
  modelVersion?: string;
}

/**
 * `gapfill`, visits-scaling's own kind: after a promotion, recompute the days of
 * `poi_visits_scaled` between the cutoff and the last predicted day with the promoted real-visits
 * model (the gap a multi-day run leaves, seed 000).
 */
export function gapfillStepHandlers(deps: KindDeps): StepHandlers {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  return {
    gapfill: {
      async run(execution) {
        const promotion = recordOf(deps, specString(execution, 'promotion'));
        const fill = async (): Promise<JsonObject> => {
          if (!promotion?.promoted)
            return { filled: false, reason: 'nothing was promoted, production keeps its gap fill' };
          const predictions = parseTableName(specString(execution, 'predictions'));
          const from = addDays(execution.cutoff, 1);
          const [range] = await warehouse.queryRows({
            // tableSql checks every part against the identifier patterns before it reaches SQL.
            sql: `SELECT MAX(day) AS last FROM ${tableSql(predictions, deps.config.BIGQUERY_PROJECT)} WHERE day >= @from`,
            params: { from: dateParam(from) },
          });
          const to = range?.last ? String(range.last) : undefined;
          if (!to) return { filled: false, reason: `no prediction after the cutoff ${execution.cutoff}` };
          const version = promotion.versions[specString(execution, 'version_of')] ?? 'unknown';
          const sql = renderSqlFile(
            specString(execution, 'sql'),
            { target: parseTableName(specString(execution, 'target')), predictions },
            deps.config.BIGQUERY_PROJECT,
          );
          const { affectedRows } = await warehouse.runStatement({
            sql,
            params: { from: dateParam(from), to: dateParam(to), model_version: version },
            what: `gap fill of ${specString(execution, 'target')} from ${from} to ${to}`,
          });
          return { filled: true, from, to, affectedRows, modelVersion: version };
        };
        const record = await fill();
        writeArtifact(deps, execution, 'record', 'gapfill.json', record);
        return { info: record };
      },
      /** Done when it followed the promotion, and the filled days still carry the promoted version. */
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
        const target = parseTableName(specString(execution, 'target'));
        const [row] = await warehouse.queryRows({
          sql: `SELECT COUNT(*) AS n FROM ${tableSql(target, deps.config.BIGQUERY_PROJECT)} WHERE day BETWEEN @from AND @to AND model_version != @version`,
          params: { from: dateParam(record.from), to: dateParam(record.to), version },
        });
        return Number(row?.n) === 0;
      },
    },
  };
}

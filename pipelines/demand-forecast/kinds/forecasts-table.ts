import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBigQueryActivities, type RunLabels } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { parseTableName } from '../../../activities/bigquery/steps';
import {
  ensureTable,
  failure,
  PipelineStepErrorType,
  shortHash,
  type KindDeps,
} from '../../../activities/kinds/common';
import { FORECASTS_SCHEMA, FORECASTS_TABLE } from '../schema';

/** One forecast row as the model program writes it. */
export interface ForecastRow {
  item_id: string;
  week: string;
  horizon: number;
  forecast: number;
}

/** The forecasts of one cutoff, for the output dataset of its environment. */
export interface CutoffForecasts {
  cutoff: string;
  dataset: string;
  model_version: string;
  forecasts: ForecastRow[];
}

/** A cutoff's forecasts loaded into a scratch table, ready to replace the cutoff's published rows. */
export interface StagedForecasts {
  cutoff: string;
  dataset: string;
  /** `<scratch dataset>.<table>`. */
  staging: string;
  rows: number;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const COLUMNS = FORECASTS_SCHEMA.map((field) => field.name).join(', ');

/**
 * Publishes the forecasts of several cutoffs **all or nothing**: each cutoff's rows are first loaded
 * into a scratch table of their own (a bad row or a failed load stops here, before anything published
 * is touched), then one multi-statement transaction replaces every cutoff's rows in
 * `<dataset>.forecasts` (DELETE + INSERT … SELECT per cutoff, then COMMIT). A failure inside the
 * transaction rolls all of it back, so readers see either the previous forecasts of every cutoff or
 * the new ones, never a cutoff half-written or missing. The staging tables are dropped afterwards.
 * A retry after a lost answer runs the same statements again, to the same end state.
 */
export async function publishForecasts(
  deps: KindDeps,
  labels: RunLabels,
  entries: CutoffForecasts[],
): Promise<StagedForecasts[]> {
  if (entries.length === 0) return [];
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const key = shortHash(`${labels.run_id}/${labels.step}/${Date.now()}/${Math.random()}`, 12);
  const dir = join(resolve(deps.workDir), 'publish', key);
  mkdirSync(dir, { recursive: true });
  const staged: StagedForecasts[] = [];
  try {
    const { dataset: scratch } = await warehouse.ensureScratchDataset({ pipeline: labels.pipeline });
    for (const [index, entry] of entries.entries()) {
      const file = join(dir, `${index}.ndjson`);
      writeFileSync(
        file,
        entry.forecasts
          .map((row) =>
            JSON.stringify({
              cutoff: entry.cutoff,
              ...row,
              model_version: entry.model_version,
              run_id: labels.run_id,
            }),
          )
          .join('\n') + '\n',
      );
      const table = { dataset: scratch, table: `publish_${key}_${index}` };
      // Recorded before the load, so a load that created the table and then failed is dropped too.
      staged.push({
        cutoff: entry.cutoff,
        dataset: entry.dataset,
        staging: `${scratch}.${table.table}`,
        rows: 0,
      });
      const loaded = await warehouse.loadFromFile({
        path: file,
        table,
        schema: FORECASTS_SCHEMA,
        writeDisposition: 'WRITE_TRUNCATE',
        labels,
      });
      (staged[index] as StagedForecasts).rows = loaded.rows;
    }
    await commitForecasts(deps, staged);
    return staged;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (staged.length > 0) {
      await warehouse
        .deleteTables({ tables: staged.map(({ staging }) => parseTableName(staging)) })
        .catch(() => undefined);
    }
  }
}

/**
 * The transaction of `publishForecasts`: every staged cutoff replaces its published rows, in one
 * script. Exported so a test can hand it a staging table that is gone (a failure mid-transaction).
 */
export async function commitForecasts(deps: KindDeps, staged: StagedForecasts[]): Promise<void> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const project = deps.config.BIGQUERY_PROJECT;
  for (const dataset of new Set(staged.map((entry) => entry.dataset))) {
    await ensureTable(deps, `${dataset}.${FORECASTS_TABLE}`, FORECASTS_SCHEMA);
  }
  const statements = staged.flatMap((entry) => {
    // A literal, checked here: the emulator takes no query parameters in a multi-statement script.
    if (!DATE.test(entry.cutoff) || Number.isNaN(Date.parse(entry.cutoff))) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `cutoff ${JSON.stringify(entry.cutoff)} is not a date`,
      );
    }
    const target = tableSql({ dataset: entry.dataset, table: FORECASTS_TABLE }, project);
    return [
      `DELETE FROM ${target} WHERE cutoff = DATE '${entry.cutoff}';`,
      `INSERT INTO ${target} (${COLUMNS}) SELECT ${COLUMNS} FROM ${tableSql(parseTableName(entry.staging), project)};`,
    ];
  });
  await warehouse.runStatement({
    sql: ['BEGIN TRANSACTION;', ...statements, 'COMMIT TRANSACTION;'].join('\n'),
    what: `publish the forecasts of ${staged.map((entry) => `${entry.cutoff} (${entry.dataset})`).join(', ')}`,
  });
}

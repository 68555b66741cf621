import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { parseTableName } from '../../../activities/bigquery/steps';
import {
  ensureTable,
  failure,
  PipelineStepErrorType,
  pinnedCodeOf,
  runLabels,
  runModel,
  shortHash,
  type KindDeps,
} from '../../../activities/kinds/common';
import type { StepExecution, StepHandlerContext, TypedExecution } from '../../../activities/steps';
import type { SensorFeaturesSpec } from './specs';
import { FEATURES_SCHEMA } from '../schema';

/** One sensor present on a day, with a fingerprint of its readings (changes when its input does). */
export interface SensorItem {
  sensor_id: string;
  rows: number;
  fingerprint: string;
}

const SENSOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** A sensor id as read from the warehouse or a payload: never trusted to be a safe name. */
export function checkSensorId(step: string, value: unknown): string {
  if (typeof value !== 'string' || !SENSOR_ID.test(value)) {
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `step ${step}: sensor id ${JSON.stringify(value)} is not 1–128 letters, digits, _ . : -`,
    );
  }
  return value;
}

/** The sensors whose readings landed on `date`, with their fingerprints, in id order. */
export async function listSensors(
  deps: KindDeps,
  readingsTable: string,
  date: string,
  step: string,
): Promise<SensorItem[]> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const table = tableSql(parseTableName(readingsTable), deps.config.BIGQUERY_PROJECT);
  const rows = await warehouse.queryRows({
    sql: `SELECT sensor_id, COUNT(*) AS n, MIN(ts) AS first_ts, MAX(ts) AS last_ts,
      ROUND(SUM(temperature), 3) AS t, ROUND(SUM(humidity), 3) AS h, ROUND(SUM(sound), 3) AS s
      FROM ${table} WHERE date = @date GROUP BY sensor_id ORDER BY sensor_id`,
    params: { date: dateParam(date) },
    maxRows: 100_000,
  });
  return rows.map((row) => ({
    sensor_id: checkSensorId(step, row.sensor_id),
    rows: Number(row.n),
    fingerprint: shortHash(JSON.stringify([row.n, row.first_ts, row.last_ts, row.t, row.h, row.s]), 16),
  }));
}

/**
 * The scratch table of one sensor's features: named from the step's code (commit, version), the
 * date and the sensor's fingerprint, so an unchanged sensor finds its table (cached) and a changed
 * one gets a new one.
 */
export function sensorFeaturesTable(
  deps: KindDeps,
  execution: Pick<StepExecution, 'pipeline' | 'step'>,
  date: string,
  item: SensorItem,
): string {
  const key = shortHash(
    JSON.stringify([execution.step.commit ?? 'working-tree', execution.step.version, date, item]),
    8,
  );
  const slug = item.sensor_id.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return `${deps.config.SCRATCH_DATASET_PREFIX}${execution.pipeline.replace(/-/g, '_')}.features_${slug}_${key}`;
}

/**
 * The feature model applied to one sensor-day: its readings exported to NDJSON, `features.py
 * featurize` at the pinned commit on the worker, the row loaded into `destination`, and the
 * production features table's row for (date, sensor) replaced by it. Returns the created table.
 */
export async function featurizeSensor(
  deps: KindDeps,
  execution: TypedExecution<Pick<SensorFeaturesSpec, 'script' | 'code'>>,
  context: StepHandlerContext,
  input: { readings: string; date: string; item: SensorItem; destination: string; featuresTable: string },
): Promise<{ table: string; rows: number }> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const project = deps.config.BIGQUERY_PROJECT;
  const dir = join(
    resolve(deps.workDir),
    'sensor-features',
    shortHash(`${execution.workflowId}/${execution.attempt}/${input.item.sensor_id}`, 12),
  );
  mkdirSync(dir, { recursive: true });
  try {
    const data = join(dir, 'readings.ndjson');
    await warehouse.exportToFile({
      sql: `SELECT sensor_id, CAST(date AS STRING) AS date, hour, temperature, humidity, sound
        FROM ${tableSql(parseTableName(input.readings), project)}
        WHERE date = @date AND sensor_id = @sensor ORDER BY ts`,
      params: { date: dateParam(input.date), sensor: input.item.sensor_id },
      path: data,
    });
    context.heartbeat({ phase: 'features', sensor: input.item.sensor_id });
    await runModel(
      deps,
      execution.step.spec.script,
      ['featurize', '--data', data, '--out', join(dir, 'features.ndjson')],
      context.signal,
      pinnedCodeOf(execution, execution.step.spec.code),
    );
    const destination = parseTableName(input.destination);
    await warehouse.ensureScratchDataset({ pipeline: execution.pipeline });
    const loaded = await warehouse.loadFromFile({
      path: join(dir, 'features.ndjson'),
      table: destination,
      schema: FEATURES_SCHEMA.map((field) => ({ ...field })),
      labels: runLabels(execution),
    });
    await publishFeatures(deps, input.featuresTable, input.date, input.item.sensor_id, input.destination);
    return { table: `${loaded.table.dataset}.${loaded.table.table}`, rows: loaded.rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Replaces (date, sensor)'s rows of the production features table with the sensor's scratch table,
 * in one MERGE: the old rows go and the new ones come in the same statement, so a failure (a missing
 * or unreadable scratch table, a conflict with another sensor's publish) leaves the previous rows,
 * and readers never see the sensor missing. One mutating statement per sensor also keeps concurrent
 * items to what BigQuery queues for a table, rather than a DELETE and an INSERT each.
 */
export async function publishFeatures(
  deps: KindDeps,
  featuresTable: string,
  date: string,
  sensor: string,
  from: string,
): Promise<void> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const project = deps.config.BIGQUERY_PROJECT;
  const target = parseTableName(featuresTable);
  await ensureTable(deps, featuresTable, FEATURES_SCHEMA);
  const columns = FEATURES_SCHEMA.map((field) => field.name);
  await warehouse.runStatement({
    sql: `MERGE ${tableSql(target, project)} T
      USING (SELECT ${columns.join(', ')} FROM ${tableSql(parseTableName(from), project)}) S ON FALSE
      WHEN NOT MATCHED BY TARGET THEN
        INSERT (${columns.join(', ')}) VALUES (${columns.map((name) => `S.${name}`).join(', ')})
      WHEN NOT MATCHED BY SOURCE AND T.date = @date AND T.sensor_id = @sensor THEN DELETE`,
    params: { date: dateParam(date), sensor },
    what: `publish ${sensor} ${date} into ${featuresTable}`,
  });
}

/** Whether (date, sensor)'s row is in the features table (false when the table does not exist). */
export async function featuresPublished(
  deps: KindDeps,
  featuresTable: string,
  date: string,
  sensor: string,
): Promise<boolean> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const target = parseTableName(featuresTable);
  if (!(await warehouse.describeTable({ table: target })).exists) return false;
  const [row] = await warehouse.queryRows({
    sql: `SELECT COUNT(*) AS n FROM ${tableSql(target, deps.config.BIGQUERY_PROJECT)}
      WHERE date = @date AND sensor_id = @sensor`,
    params: { date: dateParam(date), sensor },
  });
  return Number(row?.n ?? 0) > 0;
}

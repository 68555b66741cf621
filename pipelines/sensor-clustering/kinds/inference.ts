import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { parseTableName } from '../../../activities/bigquery/steps';
import {
  ensureTable,
  failure,
  modelFileOnDisk,
  modelRegistryOf,
  PipelineStepErrorType,
  pinnedCodeOf,
  runModel,
  shortHash,
  type KindDeps,
} from '../../../activities/kinds/common';
import type { StepHandlerContext, TypedExecution } from '../../../activities/steps';
import type { SensorClustersSpec } from './specs';
import type { JsonObject } from '../../core';
import { FEATURES_SCHEMA, RESULTS_SCHEMA } from '../schema';

/** What one clustering inference measured: stored with the run (step info) and exported. */
export interface InferenceMetrics extends JsonObject {
  date: string;
  model_version: string;
  /** Days between the model's data cutoff and the inferred date. */
  model_age_days: number | null;
  sensors: number;
  /** Sensors present that day (the run's list); `sensors < sensors_expected` is a partial result. */
  sensors_expected: number | null;
  partial: boolean;
  dataset_rows: number;
  rows_per_sensor_mean: number | null;
  rows_per_sensor_min: number | null;
  rows_per_sensor_max: number | null;
  silhouette: number | null;
  calinski_harabasz: number | null;
  davies_bouldin: number | null;
  inference_ms: number;
}

const DAY_MS = 86_400_000;

/**
 * Clustering inference for one date: the features of every sensor published so far for that date
 * (all of them, or the finished batches so far: partial results), the clusters of the model version
 * asked for (`production` alias by default) computed by `cluster.py predict` on the worker, the
 * metrics by `cluster.py evaluate`, and the rows of that date in the results table replaced.
 */
export async function inferClusters(
  deps: KindDeps,
  execution: TypedExecution<SensorClustersSpec>,
  context: StepHandlerContext,
  input: {
    expected?: number;
    /** Only these sensors (the finished items of the features map so far); all of the date's when absent. */
    sensors?: string[];
    /** A partial result whatever the counts (a run on a finished batch while the map still runs). */
    partial?: boolean;
  },
): Promise<InferenceMetrics> {
  const started = Date.now();
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const registry = modelRegistryOf(deps);
  const project = deps.config.BIGQUERY_PROJECT;
  const spec = execution.step.spec;
  const { date, model, model_version: wanted, features: featuresTable, results: resultsTable } = spec;
  const version =
    wanted === 'production'
      ? await registry.getModelAlias({ model })
      : await registry.getModelVersion({ model, version: wanted }).catch(() => null);
  if (!version) {
    throw failure(
      PipelineStepErrorType.ARTIFACT_MISSING,
      wanted === 'production'
        ? `no production version of model ${model}: run the sensor-clustering-retrain pipeline first`
        : `model_version: ${model} has no version ${wanted}`,
    );
  }
  const dir = join(
    resolve(deps.workDir),
    'sensor-clusters',
    shortHash(`${execution.workflowId}/${execution.step.id}/${execution.attempt}/${started}`, 12),
  );
  mkdirSync(dir, { recursive: true });
  try {
    await ensureTable(deps, featuresTable, FEATURES_SCHEMA);
    const data = join(dir, 'features.ndjson');
    if (input.sensors?.length === 0) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `step ${execution.step.id}: no sensor of ${date} has features yet (every item so far failed)`,
      );
    }
    const exported = await warehouse.exportToFile({
      sql: `SELECT * EXCEPT (date), CAST(date AS STRING) AS date FROM ${tableSql(parseTableName(featuresTable), project)}
        WHERE date = @date${input.sensors ? ' AND sensor_id IN UNNEST(@sensors)' : ''} ORDER BY sensor_id`,
      params: { date: dateParam(date), ...(input.sensors ? { sensors: input.sensors } : {}) },
      path: data,
    });
    context.heartbeat({ phase: 'inference', sensors: exported.rows });
    const script = spec.script;
    const modelFile = await modelFileOnDisk(deps, version);
    const code = pinnedCodeOf(execution, spec.code);
    await runModel(
      deps,
      script,
      ['predict', '--model', modelFile, '--data', data, '--out', join(dir, 'clusters.ndjson')],
      context.signal,
      code,
    );
    const scores = JSON.parse(
      (await runModel(deps, script, ['evaluate', '--model', modelFile, '--data', data], context.signal, code))
        .trim()
        .split('\n')
        .pop() as string,
    ) as Record<string, number | null>;
    const rowsPerSensor = readFileSync(data, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => Number((JSON.parse(line) as { rows: number }).rows));
    const expected = input.expected ?? spec.expected ?? null;
    const partial = input.partial === true || (expected !== null && exported.rows < expected);
    const rows = readFileSync(join(dir, 'clusters.ndjson'), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => ({
        ...(JSON.parse(line) as Record<string, unknown>),
        model_version: version.version,
        run_id: execution.workflowId,
        sensors_in_inference: exported.rows,
        partial,
      }));
    const results = join(dir, 'results.ndjson');
    writeFileSync(results, rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length ? '\n' : ''));
    await replaceResults(deps, resultsTable, date, results);
    const cutoff = version.lineage.cutoff;
    return {
      date,
      model_version: version.version,
      model_age_days: cutoff ? Math.round((Date.parse(date) - Date.parse(cutoff)) / DAY_MS) : null,
      sensors: exported.rows,
      sensors_expected: expected,
      partial,
      dataset_rows: rowsPerSensor.reduce((sum, n) => sum + n, 0),
      rows_per_sensor_mean: rowsPerSensor.length
        ? rowsPerSensor.reduce((sum, n) => sum + n, 0) / rowsPerSensor.length
        : null,
      rows_per_sensor_min: rowsPerSensor.length ? Math.min(...rowsPerSensor) : null,
      rows_per_sensor_max: rowsPerSensor.length ? Math.max(...rowsPerSensor) : null,
      silhouette: scores.silhouette ?? null,
      calinski_harabasz: scores.calinski_harabasz ?? null,
      davies_bouldin: scores.davies_bouldin ?? null,
      inference_ms: Date.now() - started,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The date's rows of the results table, replaced by the file's (a later, fuller inference wins). */
async function replaceResults(deps: KindDeps, name: string, date: string, file: string): Promise<void> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  await ensureTable(deps, name, RESULTS_SCHEMA);
  await warehouse.runStatement({
    sql: `DELETE FROM ${tableSql(parseTableName(name), deps.config.BIGQUERY_PROJECT)} WHERE date = @date`,
    params: { date: dateParam(date) },
    what: `replace ${date} in ${name}`,
  });
  await warehouse.loadFromFile({
    path: file,
    table: parseTableName(name),
    schema: RESULTS_SCHEMA.map((field) => ({ ...field })),
    labels: { run_id: 'sensor-clustering', pipeline: 'sensor-clustering', step: 'clustering_inference' },
    writeDisposition: 'WRITE_APPEND',
  });
}

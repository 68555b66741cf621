import { createBigQueryActivities } from '../../../activities/bigquery';
import { parseTableName } from '../../../activities/bigquery/steps';
import type { KindDeps } from '../../../activities/kinds/common';
import { defineKind, type AnyStepKind } from '../../../activities/kinds/kind';
import { modelProgram } from '../../../activities/kinds/program';
import type { JsonObject } from '../../core';
import { failure, PipelineStepErrorType } from '../../../activities/kinds/common';
import { featuresPublished, featurizeSensor, listSensors, sensorFeaturesTable } from './features';
import { inferClusters } from './inference';
import { exportInferenceMetrics } from './metrics';
import {
  sensorClustersSpec,
  sensorFeatureSpec,
  sensorFeaturesSpec,
  sensorItemSchema,
  sensorListSpec,
} from './specs';

export { listSensors, featurizeSensor, sensorFeaturesTable, type SensorItem } from './features';
export { inferClusters, type InferenceMetrics } from './inference';

/**
 * `sensor_list`: the sensors whose readings landed on the date, each with a fingerprint of its
 * readings, as `info.sensors` — the list the `features` map runs over (one item per sensor). It has no
 * outputs, so it is never cached: every run and every arrival rerun lists what is there now.
 */
export const sensorListKind = defineKind({
  name: 'sensor_list',
  version: '1',
  runs: { by: 'activity' },
  spec: sensorListSpec,
  handler: (deps: KindDeps) => ({
    async run(execution) {
      const { readings, date } = execution.step.spec;
      const sensors = await listSensors(deps, readings, date, execution.step.id);
      return { info: { sensors: sensors as unknown as JsonObject[], count: sensors.length } };
    },
  }),
});

/**
 * `sensor_feature`: one item of the `features` map — the feature model applied to one sensor-day,
 * into the item's own output table (named from the item's cache key, so from the sensor's
 * fingerprint), and (date, sensor)'s row of the features table replaced by it. Its outputs exist when
 * that table and the published row do: an unchanged sensor is `cached`.
 */
export const sensorFeatureKind = defineKind({
  name: 'sensor_feature',
  version: '1',
  runs: { by: 'activity' },
  spec: sensorFeatureSpec,
  program: (spec) => modelProgram(spec.code, [spec.script]),
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    return {
      async run(execution, context) {
        const { readings, date, features, sensor } = execution.step.spec;
        const destination = execution.outputs.table;
        if (!destination) {
          throw failure(
            PipelineStepErrorType.INVALID_SPEC,
            `step ${execution.step.id}: needs the output table`,
          );
        }
        const { table, rows } = await featurizeSensor(deps, execution, context, {
          readings,
          date,
          item: sensor,
          destination,
          featuresTable: features,
        });
        return {
          outputs: { table },
          info: { sensor: sensor.sensor_id, rows, createdTables: [table] },
        };
      },
      async outputsExist(execution) {
        const { features, date, sensor } = execution.step.spec;
        const table = execution.outputs.table;
        if (!table || !(await warehouse.describeTable({ table: parseTableName(table) })).exists) return false;
        await warehouse.keepTable({ table: parseTableName(table) });
        // The item's table alone is not enough: its row must have reached the features table too (a
        // publish that failed after the load leaves the table but not the row).
        return await featuresPublished(deps, features, date, sensor.sensor_id);
      },
    };
  },
});

/**
 * `sensor_features` (runs planned before the features map): the feature model applied to every
 * sensor present on the date in one step, one scratch table per sensor named from its input's
 * fingerprint, so an unchanged sensor is cached. Kept so such runs still finish.
 */
export const sensorFeaturesKind = defineKind({
  name: 'sensor_features',
  version: '1',
  runs: { by: 'activity' },
  spec: sensorFeaturesSpec,
  program: (spec) => modelProgram(spec.code, [spec.script]),
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    return {
      async run(execution, context) {
        const { readings, date, features } = execution.step.spec;
        const items = await listSensors(deps, readings, date, execution.step.id);
        const cached: string[] = [];
        const computed: string[] = [];
        const createdTables: string[] = [];
        for (const item of items) {
          const destination = sensorFeaturesTable(deps, execution, date, item);
          if ((await warehouse.describeTable({ table: parseTableName(destination) })).exists) {
            cached.push(item.sensor_id);
            continue;
          }
          const { table } = await featurizeSensor(deps, execution, context, {
            readings,
            date,
            item,
            destination,
            featuresTable: features,
          });
          computed.push(item.sensor_id);
          createdTables.push(table);
        }
        return { info: { sensors: items.length, cached, computed, createdTables } };
      },
    };
  },
});

/**
 * `sensor_clusters`: clustering inference over the features published for the date, results into the
 * results table, metrics into the step's info. With `sensors_step` (the features map) it covers that
 * map's finished items: as an `eachBatch` step, once per finished batch while the map runs (partial
 * results over a growing set of sensors) and once over all of them.
 */
export const sensorClustersKind = defineKind({
  name: 'sensor_clusters',
  version: '2',
  runs: { by: 'activity' },
  spec: sensorClustersSpec,
  program: (spec) => modelProgram(spec.code, [spec.script]),
  handler: (deps: KindDeps) => ({
    async run(execution, context) {
      const { readings, date, sensors_step: mapStep } = execution.step.spec;
      const expected = (await listSensors(deps, readings, date, execution.step.id)).length;
      const sensors = mapStep ? finishedSensors(execution, mapStep) : undefined;
      const metrics = await inferClusters(deps, execution, context, {
        expected,
        ...(sensors ? { sensors } : {}),
        ...(execution.batch && !execution.batch.final ? { partial: true } : {}),
      });
      exportInferenceMetrics(metrics, { pipeline: execution.pipeline });
      return {
        outputs: { ...execution.outputs, metrics: JSON.stringify(metrics) },
        info: {
          ...metrics,
          ...(execution.batch ? { batch: { ...execution.batch } } : {}),
        } as JsonObject,
      };
    },
  }),
});

/** The sensor ids of the features map's finished items (checked: they reach a query parameter). */
function finishedSensors(
  execution: { step: { id: string }; items?: Record<string, { item: unknown }[]> },
  mapStep: string,
): string[] {
  const items = execution.items?.[mapStep];
  if (!items) {
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `step ${execution.step.id}: sensors_step must name the map step it runs after, got ${JSON.stringify(mapStep)}`,
    );
  }
  return items.map(({ item }) => {
    const parsed = sensorItemSchema.safeParse(item);
    if (!parsed.success) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `step ${execution.step.id}: ${mapStep} item ${JSON.stringify(item).slice(0, 120)} is not a sensor`,
      );
    }
    return parsed.data.sensor_id;
  });
}

/** The step kinds of sensor-clustering (registered in pipelines/kinds.ts). */
export const sensorClusteringKinds: AnyStepKind[] = [
  sensorListKind,
  sensorFeatureKind,
  sensorClustersKind,
  sensorFeaturesKind,
];

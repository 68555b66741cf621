import { createBigQueryActivities } from '../../../activities/bigquery';
import { parseTableName } from '../../../activities/bigquery/steps';
import type { KindDeps } from '../../../activities/kinds/common';
import { defineKind, type AnyStepKind } from '../../../activities/kinds/kind';
import type { JsonObject } from '../../core';
import { featurizeSensor, listSensors, sensorFeaturesTable } from './features';
import { inferClusters } from './inference';
import { sensorClustersSpec, sensorFeaturesSpec } from './specs';

export { listSensors, featurizeSensor, sensorFeaturesTable, type SensorItem } from './features';
export { inferClusters, type InferenceMetrics } from './inference';

/**
 * `sensor_features`: the feature model applied to every sensor present on the date, one scratch
 * table per sensor named from its input's fingerprint, so an unchanged sensor is cached.
 */
export const sensorFeaturesKind = defineKind({
  name: 'sensor_features',
  version: '1',
  runs: { by: 'activity' },
  spec: sensorFeaturesSpec,
  program: (spec) => spec.code,
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

/** `sensor_clusters`: clustering inference over the features published for the date, results into the results table, metrics into the step's info. */
export const sensorClustersKind = defineKind({
  name: 'sensor_clusters',
  version: '1',
  runs: { by: 'activity' },
  spec: sensorClustersSpec,
  program: (spec) => spec.code,
  handler: (deps: KindDeps) => ({
    async run(execution, context) {
      const { readings, date } = execution.step.spec;
      const expected = (await listSensors(deps, readings, date, execution.step.id)).length;
      const metrics = await inferClusters(deps, execution, context, { expected });
      return {
        outputs: { ...execution.outputs, metrics: JSON.stringify(metrics) },
        info: metrics as JsonObject,
      };
    },
  }),
});

/** The step kinds of sensor-clustering (registered in pipelines/kinds.ts). */
export const sensorClusteringKinds: AnyStepKind[] = [sensorFeaturesKind, sensorClustersKind];

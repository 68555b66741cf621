import { createBigQueryActivities } from '../../../activities/bigquery';
import { parseTableName } from '../../../activities/bigquery/steps';
import { specString, type KindDeps } from '../../../activities/kinds/common';
import type { StepHandlers } from '../../../activities/steps';
import type { JsonObject } from '../../core';
import { featurizeSensor, listSensors, sensorFeaturesTable } from './features';
import { inferClusters } from './inference';

export { listSensors, featurizeSensor, sensorFeaturesTable, type SensorItem } from './features';
export { inferClusters, type InferenceMetrics } from './inference';

/**
 * The step kinds of sensor-clustering (registered in pipelines/kinds.ts):
 * - `sensor_features`: the feature model applied to every sensor present on the date, one scratch
 *   table per sensor named from its input's fingerprint, so an unchanged sensor is cached;
 * - `sensor_clusters`: clustering inference over the features published for the date, results
 *   into the results table, metrics into the step's info.
 */
export function sensorClusteringKinds(deps: KindDeps): StepHandlers {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  return {
    sensor_features: {
      async run(execution, context) {
        const readings = specString(execution, 'readings');
        const date = specString(execution, 'date');
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
            featuresTable: specString(execution, 'features'),
          });
          computed.push(item.sensor_id);
          createdTables.push(table);
        }
        return { info: { sensors: items.length, cached, computed, createdTables } };
      },
    },
    sensor_clusters: {
      async run(execution, context) {
        const expected = (
          await listSensors(
            deps,
            specString(execution, 'readings'),
            specString(execution, 'date'),
            execution.step.id,
          )
        ).length;
        const metrics = await inferClusters(deps, execution, context, { expected });
        return {
          outputs: { ...execution.outputs, metrics: JSON.stringify(metrics) },
          info: metrics as JsonObject,
        };
      },
    },
  };
}

import type { KindDeps } from '../activities/kinds/common';
import type { StepHandlers } from '../activities/steps';
import { demandForecastKinds } from './demand-forecast/kinds';
import { ingestTrainEvaluateDeployKinds } from './ingest-train-evaluate-deploy/kinds';
import { sensorClusteringKinds } from './sensor-clustering/kinds';
import { visitsScalingKinds } from './visits-scaling/kinds';

/**
 * The step kinds that pipeline packages bring beyond the generic ones: one line per pipeline with
 * kinds of its own. Only the worker imports this list (kinds do I/O); the API imports the catalog.
 */
export const pipelineKinds: ((deps: KindDeps) => StepHandlers)[] = [
  visitsScalingKinds,
  sensorClusteringKinds,
  ingestTrainEvaluateDeployKinds,
  demandForecastKinds,
];

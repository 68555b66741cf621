import type { AnyStepKind } from '../activities/kinds/kind';
import { demandForecastKinds } from './demand-forecast/kinds';
import { ingestTrainEvaluateDeployKinds } from './ingest-train-evaluate-deploy/kinds';
import { sensorClusteringKinds } from './sensor-clustering/kinds';
import { visitsScalingKinds } from './visits-scaling/kinds';

/**
 * The step kinds that pipeline packages bring beyond the generic ones: one entry per pipeline with
 * kinds of its own. Only the worker's kind list (workers/kinds.ts) imports this (kinds do I/O).
 */
export const pipelineKinds: AnyStepKind[] = [
  ...visitsScalingKinds,
  ...sensorClusteringKinds,
  ...ingestTrainEvaluateDeployKinds,
  ...demandForecastKinds,
];

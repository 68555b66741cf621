import { createPipelineRegistry, type PipelineRegistry } from './core';
import type { DailyRunTrigger } from './core/triggers';
import { demandForecastPipeline } from './demand-forecast/pipeline';
import { demoPipeline } from './demo/pipeline';
import { ingestTrainEvaluateDeployPipeline } from './ingest-train-evaluate-deploy/pipeline';
import { sensorClusteringPipeline, sensorClusteringRetrainPipeline } from './sensor-clustering/pipeline';
import { sensorClusteringDaily } from './sensor-clustering/trigger';
import { visitsScalingPipeline } from './visits-scaling/pipeline';

/** Every pipeline the worker can run and the API lists: one line per pipeline package. */
export const pipelines: PipelineRegistry = createPipelineRegistry([
  demoPipeline,
  visitsScalingPipeline,
  sensorClusteringPipeline,
  sensorClusteringRetrainPipeline,
  ingestTrainEvaluateDeployPipeline,
  demandForecastPipeline,
]);

/** Pipelines with one run per day, joined by their schedule and by data arrivals: one line each. */
export const dailyRunTriggers: ReadonlyMap<string, DailyRunTrigger> = new Map(
  [sensorClusteringDaily].map((trigger) => [trigger.pipeline, trigger]),
);

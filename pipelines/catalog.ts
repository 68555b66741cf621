import { createPipelineRegistry, type PipelineRegistry } from './core';
import { demoPipeline } from './demo/pipeline';
import { sensorClusteringPipeline, sensorClusteringRetrainPipeline } from './sensor-clustering/pipeline';
import { visitsScalingPipeline } from './visits-scaling/pipeline';

/** Every pipeline the worker can run and the API lists: one line per pipeline package. */
export const pipelines: PipelineRegistry = createPipelineRegistry([
  demoPipeline,
  visitsScalingPipeline,
  sensorClusteringPipeline,
  sensorClusteringRetrainPipeline,
]);

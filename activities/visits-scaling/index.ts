import type { BigQuery } from '@google-cloud/bigquery';
import { join } from 'node:path';
import type { Config } from '../../config';
import { registryRoot } from '../registry';
import type { StepHandlers } from '../steps';
import type { VisitsScalingDeps } from './common';
import { modelStepHandlers } from './models';
import { releaseStepHandlers } from './release';

export { createTrainingStepActivities, type TrainingStepActivities } from './training';
export { PipelineStepErrorType, type VisitsScalingDeps, type ModelArtifact } from './common';
export type { EvaluationDecision } from './models';
export type { PromotionRecord } from './release';

/**
 * The step kinds of the visits-scaling pipeline beyond `sql`: `prepare`, `train` (its cache check;
 * the training itself is the trainOnVm child workflow), `predict`, `evaluate`, `promote`, `gapfill`,
 * `cleanup`. Register them in the worker next to the other step handlers.
 */
export function visitsScalingStepHandlers(deps: VisitsScalingDeps): StepHandlers {
  return { ...modelStepHandlers(deps), ...releaseStepHandlers(deps) };
}

/** The deps from the worker's configuration: registry (REGISTRY_DIR or <DATA_DIR>/registry), <DATA_DIR>/work. */
export function visitsScalingDepsFor(bigquery: BigQuery, config: Config): VisitsScalingDeps {
  return {
    bigquery,
    config: { ...config, BIGQUERY_PROJECT: bigquery.projectId },
    registryDir: registryRoot(config),
    workDir: join(config.DATA_DIR, 'work'),
  };
}

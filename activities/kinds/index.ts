import type { BigQuery } from '@google-cloud/bigquery';
import { join } from 'node:path';
import type { Config } from '../../config';
import { registryRoot } from '../registry';
import type { StepHandlers } from '../steps';
import type { KindDeps } from './common';
import { modelStepHandlers } from './models';
import { releaseStepHandlers } from './release';

export { createTrainingStepActivities, type TrainingStepActivities } from './training';
export { PipelineStepErrorType, type KindDeps, type ModelArtifact } from './common';
export type { EvaluationDecision } from './models';
export type { PromotionRecord } from './release';

/**
 * The generic model and release kinds, which know no pipeline: `prepare`, `train` (its cache check;
 * the training itself is the trainOnVm child workflow), `predict`, `evaluate`, `promote`, `cleanup`.
 */
export function modelKindHandlers(deps: KindDeps): StepHandlers {
  return { ...modelStepHandlers(deps), ...releaseStepHandlers(deps) };
}

/** The deps from the worker's configuration: registry (REGISTRY_DIR or <DATA_DIR>/registry), <DATA_DIR>/work. */
export function kindDepsFor(bigquery: BigQuery, config: Config): KindDeps {
  return {
    bigquery,
    config: { ...config, BIGQUERY_PROJECT: bigquery.projectId },
    registryDir: registryRoot(config),
    workDir: join(config.DATA_DIR, 'work'),
  };
}

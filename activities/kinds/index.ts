import { runPolicyFromConfig } from '../run-policy';
import type { BigQuery } from '@google-cloud/bigquery';
import { join } from 'node:path';
import type { Config } from '../../config';
import { sqlKind } from '../bigquery/steps';
import { registryRoot } from '../registry';
import { echoKind, gateKind } from './basic';
import type { AnyStepKind } from './kind';
import { evaluateKind, predictKind } from './models';
import { cleanupKind, prepareKind, promoteKind } from './release';
import { trainKind } from './training';
import type { KindDeps } from './common';

export { createTrainingStepActivities, type TrainingStepActivities } from './training';
export { PipelineStepErrorType, type KindDeps, type ModelArtifact } from './common';
export { bindKinds, defineKind, kindRegistry, type AnyStepKind, type StepKind } from './kind';
export type { EvaluationDecision } from './models';
export type { PromotionRecord } from './release';

/**
 * The generic step kinds, which know no pipeline: `echo`, `gate`, `sql`, `prepare`, `train` (the
 * trainOnVm child workflow), `predict`, `evaluate`, `promote`, `cleanup`.
 */
export const genericKinds: AnyStepKind[] = [
  echoKind,
  gateKind,
  sqlKind,
  prepareKind,
  trainKind,
  predictKind,
  evaluateKind,
  promoteKind,
  cleanupKind,
];

/**
 * The deps from the worker's configuration: registry (REGISTRY_DIR or <DATA_DIR>/registry; versions and
 * aliases in REGISTRY_URL when set), <DATA_DIR>/work.
 */
export function kindDepsFor(bigquery: BigQuery, config: Config): KindDeps {
  return {
    bigquery,
    config: { ...config, BIGQUERY_PROJECT: bigquery.projectId },
    registryDir: registryRoot(config),
    registryUrl: config.REGISTRY_URL,
    gcsApiEndpoint: config.GCS_API_ENDPOINT,
    workDir: join(config.DATA_DIR, 'work'),
    policy: runPolicyFromConfig(config),
  };
}

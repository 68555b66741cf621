import type { KindDeps } from '../../../activities/kinds/common';
import type { StepHandlers } from '../../../activities/steps';
import { retentionStepHandlers } from './retention';

/** The step kinds of ingest-train-evaluate-deploy beyond the generic ones (registered in pipelines/kinds.ts). */
export const ingestTrainEvaluateDeployKinds = (deps: KindDeps): StepHandlers => retentionStepHandlers(deps);

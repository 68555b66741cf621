import type { AnyStepKind } from '../../../activities/kinds/kind';
import { retentionKind } from './retention';

/** The step kinds of ingest-train-evaluate-deploy beyond the generic ones (registered in pipelines/kinds.ts). */
export const ingestTrainEvaluateDeployKinds: AnyStepKind[] = [retentionKind];

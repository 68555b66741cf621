import { genericKinds, type AnyStepKind } from '../activities/kinds';
import { pipelineKinds } from '../pipelines/kinds';

/** THE list of step kinds the worker serves and the plan checks specs against: generic, then the pipelines' own. */
export const stepKinds: AnyStepKind[] = [...genericKinds, ...pipelineKinds];

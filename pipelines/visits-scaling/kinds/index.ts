import type { KindDeps } from '../../../activities/kinds/common';
import type { StepHandlers } from '../../../activities/steps';
import { gapfillStepHandlers } from './gapfill';

/** The step kinds of visits-scaling beyond the generic ones (registered in pipelines/kinds.ts). */
export const visitsScalingKinds = (deps: KindDeps): StepHandlers => gapfillStepHandlers(deps);

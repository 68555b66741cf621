import type { AnyStepKind } from '../../../activities/kinds/kind';
import { gapfillKind } from './gapfill';

/** The step kinds of visits-scaling beyond the generic ones (registered in pipelines/kinds.ts). */
export const visitsScalingKinds: AnyStepKind[] = [gapfillKind];

import type { AnyStepKind } from '../../../activities/kinds/kind';
import { forecastCutoffsKind } from './cutoffs';
import { forecastInputsKind, forecastPublishKind } from './publish';

export { forecastCutoffsKind, forecastCutoffsSpec } from './cutoffs';
export { forecastInputsKind, forecastInputsSpec, forecastPublishKind, forecastPublishSpec } from './publish';

/** The step kinds of demand-forecast beyond the generic ones (registered in pipelines/kinds.ts). */
export const demandForecastKinds: AnyStepKind[] = [
  forecastCutoffsKind,
  forecastInputsKind,
  forecastPublishKind,
];

import type { KindDeps } from '../../../activities/kinds/common';
import type { StepHandlers } from '../../../activities/steps';
import { cutoffsStepHandlers } from './cutoffs';
import { forecastStepHandlers } from './publish';

/** The step kinds of demand-forecast beyond the generic ones (registered in pipelines/kinds.ts). */
export const demandForecastKinds = (deps: KindDeps): StepHandlers => ({
  ...cutoffsStepHandlers(deps),
  ...forecastStepHandlers(deps),
});

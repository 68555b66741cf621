/**
 * The pipeline's usual schedule (`npm run schedules -- demand-forecast`): Mondays 06:00 UTC, after
 * the weekly refinement, the last cutoff on prod. A scheduled run's cutoff is its nominal day.
 */
export const demandForecastSchedule = {
  id: 'demand-forecast-weekly',
  pipeline: 'demand-forecast',
  cron: ['0 6 * * 1'],
  params: { environment: 'prod', only_last: 'true' },
};

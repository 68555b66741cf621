/**
 * How a pipeline with one run per day is started: by its daily schedule and by data arriving for a
 * day, both through signal-with-start on the run's workflow id `<pipeline>/<date>` (one run per day;
 * a running run takes the new data in by rerunning `rerunFrom`; after it finished, a follow-up run).
 */
export interface DailyRunTrigger {
  pipeline: string;
  /** The step a running run redoes when data arrives (the listing of what landed that day). */
  rerunFrom: string;
  /** The daily schedule `npm run schedules -- <pipeline>` creates. */
  schedule: { id: string; cron: string; timezone?: string };
}

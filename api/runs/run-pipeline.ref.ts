/**
 * The workflow type the API starts. A constant rather than an import of the workflow function, so the
 * API process never loads workflow code (the workflow exports a function of this name).
 */
export const RUN_PIPELINE_WORKFLOW = 'runPipeline';

/** The schedule action of pipelines with one run per day (workflows/join-daily-run.ts). */
export const JOIN_DAILY_RUN_WORKFLOW = 'joinDailyRun';

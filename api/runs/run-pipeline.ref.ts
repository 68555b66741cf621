/**
 * The workflow types the API starts. Constants rather than imports of the workflow functions, so the
 * API process never loads workflow code (the workflows export functions of these names).
 */
export const RUN_PIPELINE_WORKFLOW = 'runPipeline';
export const PLAN_PIPELINE_WORKFLOW = 'planPipeline';

/** The schedule action of pipelines with one run per day (workflows/join-daily-run.ts). */
export const JOIN_DAILY_RUN_WORKFLOW = 'joinDailyRun';

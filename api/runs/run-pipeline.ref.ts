/**
 * The workflow type the API starts. A constant rather than an import of the workflow function, so the
 * API process never loads workflow code (the workflow exports a function of this name).
 */
export const RUN_PIPELINE_WORKFLOW = 'runPipeline';

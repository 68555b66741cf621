/** The pipeline's usual schedule (`npm run schedules -- ingest-train-evaluate-deploy`): daily, 05:00 UTC. */
export const ingestTrainEvaluateDeploySchedule = {
  id: 'ingest-train-evaluate-deploy-daily',
  pipeline: 'ingest-train-evaluate-deploy',
  cron: ['0 5 * * *'],
};

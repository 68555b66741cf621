// `npm run demo [-- <pipeline>]`: starts the local stack (or reuses the running one), prepares the
// pipeline's synthetic data, then runs it (visits-scaling by default) with a worker and the API in
// this process, driven through HTTP only, and prints where to look. `npm run demo -- --list` lists
// the pipelines with a demo. `--stop` stops the stack at the end; by default it keeps running so the
// run stays visible in the Web UI.
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { resolve } from 'node:path';
import { createBigQueryClient } from '../activities/clients';
import { loadConfig } from '../config';
import { createFileLogger } from './demo/log-file';
import { demoToken, runDemo } from './demo/run-demo';
import { demoRecipe, demoRecipes } from './demo/recipes';
import { runSensorDemo, SENSOR_DEMO_ABOUT } from './demo/sensor-clustering';
import { dataDir } from '../activities/providers/paths';
import { describeStack, startLocalStack, stopLocalStack } from './stack/local-stack';

async function main(): Promise<void> {
  const stopAtEnd = process.argv.includes('--stop');
  const others = [
    ...demoRecipes.map((r) => [r.pipeline, r.about]),
    // A scenario of several runs (two days, arrivals, a retrain), not a recipe's single run.
    ['sensor-clustering', SENSOR_DEMO_ABOUT],
  ]
    .map(([pipeline, about]) => `  npm run demo -- ${String(pipeline).padEnd(30)} ${about}`)
    .join('\n');
  if (process.argv.includes('--list')) {
    console.log(`pipelines with a demo:\n${others}`);
    return;
  }
  const chosen = process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 'visits-scaling';
  const recipe = chosen === 'sensor-clustering' ? undefined : demoRecipe(chosen);
  // The demo prints its own progress; the worker's logs (SDK, activities) go to a file.
  const workerLog = createFileLogger(dataDir('logs', 'demo-worker.log'));
  // The SDK core's own lines (e.g. "Activity not found on completion" after a cancelled map item)
  // are forwarded to that file too, instead of stderr.
  Runtime.install({
    logger: workerLog.logger,
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  console.log('starting the local stack (Temporal dev server + Web UI, BigQuery emulator)…');
  const stack = await startLocalStack();
  console.log(describeStack(stack));

  // The worker reads its settings from the environment (as in production); point them at the stack.
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_UI_URL: stack.temporal.uiUrl,
    BIGQUERY_PROJECT: stack.bigquery.projectId,
    BIGQUERY_API_ENDPOINT: stack.bigquery.apiEndpoint,
    DATA_DIR: dataDir(),
    VM_PROVIDER: 'local',
    API_TOKENS: demoToken(),
  });
  const config = loadConfig();
  const started = Date.now();
  if (!recipe) {
    try {
      const { workflowId, view } = await runSensorDemo({ config, bigquery: createBigQueryClient(config) });
      const minutes = ((Date.now() - started) / 60_000).toFixed(1);
      console.log(`\nrun ${workflowId}: ${view.run.state} (the demo took ${minutes} min)`);
      console.log(`  Web UI ${view.webUiUrl}; README pipelines/sensor-clustering/README.md`);
      console.log(`  worker log ${workerLog.file} (${workerLog.problems()} warnings or errors)`);
      if (view.run.state !== 'succeeded') process.exitCode = 1;
    } finally {
      if (stopAtEnd) await stopLocalStack();
    }
    return;
  }
  try {
    const { workflowId, view } = await runDemo({
      config,
      bigquery: createBigQueryClient(config),
      pipeline: recipe.pipeline,
    });
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    console.log(`\nrun ${workflowId}: ${view.run.state} in ${minutes} min`);
    if (view.run.steps.every((step) => step.state === 'cached' || step.id === 'cleanup')) {
      console.log('  every step was cached: an earlier demo computed the same outputs from the same inputs.');
      console.log('  to start over from an empty warehouse: npm run stack -- reset && npm run demo');
    }
    console.log('\nwhere to look:');
    console.log(`  Web UI            ${view.webUiUrl}`);
    console.log(`  model registry    ${resolve(config.DATA_DIR, 'registry')} (alias "production" per model)`);
    console.log(`  warehouse         ${stack.bigquery.apiEndpoint} (project ${stack.bigquery.projectId})`);
    console.log(`  pipeline README   pipelines/${recipe.pipeline}/README.md`);
    console.log(`  local VMs         ${resolve(config.DATA_DIR, 'vms')}  (npm run vms -- list)`);
    console.log(`  logs              ${stack.logs}`);
    console.log(`  worker log        ${workerLog.file} (${workerLog.problems()} warnings or errors)`);
    if (view.run.state !== 'succeeded') process.exitCode = 1;
  } finally {
    if (stopAtEnd) await stopLocalStack();
  }
  console.log(
    stopAtEnd
      ? '\nlocal stack stopped.'
      : '\nthe local stack keeps running; stop it with: npm run stack -- stop',
  );
  console.log(`\nthe other pipelines' demos:\n${others}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});

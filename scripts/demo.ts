// `npm run demo`: starts the local stack (or reuses the running one), then runs the visits-scaling
// pipeline with a worker and the API in this process, driven through HTTP only, and prints where to
// look. `npm run demo -- --stop` stops the stack at the end; by default it keeps running so the run
// stays visible in the Web UI.
import { Runtime } from '@temporalio/worker';
import { resolve } from 'node:path';
import { createBigQueryClient } from '../activities/clients';
import { loadConfig } from '../config';
import { createFileLogger } from './demo/log-file';
import { demoToken, runDemo } from './demo/run-demo';
import { runSensorDemo } from './demo/sensor-clustering';
import { dataDir } from '../activities/providers/paths';
import { describeStack, startLocalStack, stopLocalStack } from './stack/local-stack';

/** Pipelines with a demo of their own (`npm run demo -- <name>`); the plain demo is visits-scaling. */
const OTHER_DEMOS = ['sensor-clustering'];

async function main(): Promise<void> {
  const stopAtEnd = process.argv.includes('--stop');
  const pipeline = process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 'visits-scaling';
  if (pipeline !== 'visits-scaling' && !OTHER_DEMOS.includes(pipeline)) {
    console.error(`no demo for ${pipeline}; demos: visits-scaling (default), ${OTHER_DEMOS.join(', ')}`);
    process.exit(2);
  }
  // The demo prints its own progress; the worker's logs (SDK, activities) go to a file.
  const workerLog = createFileLogger(dataDir('logs', 'demo-worker.log'));
  Runtime.install({ logger: workerLog.logger });
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
  if (pipeline === 'sensor-clustering') {
    try {
      const { workflowId, view } = await runSensorDemo({ config, bigquery: createBigQueryClient(config) });
      console.log(
        `\nrun ${workflowId}: ${view.run.state} in ${((Date.now() - started) / 60_000).toFixed(1)} min`,
      );
      console.log(`  Web UI ${view.webUiUrl}; worker log ${workerLog.file}`);
      if (view.run.state !== 'succeeded') process.exitCode = 1;
    } finally {
      if (stopAtEnd) await stopLocalStack();
    }
    return;
  }
  try {
    const { workflowId, view } = await runDemo({ config, bigquery: createBigQueryClient(config) });
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const evaluate = view.run.steps.find((step) => step.id === 'evaluate');
    console.log(`\nrun ${workflowId}: ${view.run.state} in ${minutes} min`);
    printEvaluation(evaluate?.info);
    if (view.run.steps.every((step) => step.state === 'cached' || step.id === 'cleanup')) {
      console.log('  every step was cached: an earlier demo computed the same outputs from the same inputs.');
      console.log('  to start over from an empty warehouse: npm run stack -- reset && npm run demo');
    }
    console.log('\nwhere to look:');
    console.log(`  Web UI            ${view.webUiUrl}`);
    console.log(`  model registry    ${resolve(config.DATA_DIR, 'registry')} (alias "production" per model)`);
    console.log(
      `  production tables dataset visits_production on ${stack.bigquery.apiEndpoint} (project ${stack.bigquery.projectId})`,
    );
    console.log(`  local VMs         ${resolve(config.DATA_DIR, 'vms')}  (npm run vms -- list)`);
    console.log(`  logs              ${stack.logs}`);
    console.log(`  worker log        ${workerLog.file} (${workerLog.problems()} warnings or errors)`);
    if (view.run.state !== 'succeeded') process.exitCode = 1;
    console.log(
      `\nother pipelines' demos: ${OTHER_DEMOS.map((name) => `npm run demo -- ${name}`).join(', ')}`,
    );
  } finally {
    if (stopAtEnd) await stopLocalStack();
  }
  console.log(
    stopAtEnd
      ? '\nlocal stack stopped.'
      : '\nthe local stack keeps running; stop it with: npm run stack -- stop',
  );
}

interface Evaluation {
  promote?: boolean;
  reason?: string;
  models?: Record<string, { challenger?: number; champion?: number; passed?: boolean }>;
}

/** The champion/challenger verdict, one line per model. */
function printEvaluation(info: Record<string, unknown> | undefined): void {
  const evaluation = info as Evaluation | undefined;
  if (!evaluation?.models) return;
  console.log(
    `  evaluation: ${evaluation.promote ? 'promoted' : 'NOT promoted'} (${evaluation.reason ?? ''})`,
  );
  for (const [model, scores] of Object.entries(evaluation.models)) {
    const mse = (value: number | undefined) => (value === undefined ? 'n/a' : value.toPrecision(4));
    console.log(
      `    ${model.padEnd(13)} MSE ${mse(scores.challenger)} vs production ${mse(scores.champion)} → ${scores.passed ? 'better' : 'worse'}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});

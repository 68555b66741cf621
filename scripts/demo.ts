// `npm run demo`: starts the local stack (or reuses the running one), runs a worker in this process,
// runs the demo workflow on it, and prints where to look. `npm run demo -- --stop` stops the stack
// at the end; by default it keeps running so the run stays visible in the Web UI.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { createBigQueryClient } from '../activities/clients';
import { loadConfig } from '../config';
import { stackCheck } from '../workflows';
import { createWorker } from '../workers/worker';
import { describeStack, startLocalStack, stopLocalStack } from './stack/local-stack';
import { publicKeyBlob } from './stack/sshd';

async function main(): Promise<void> {
  const stopAtEnd = process.argv.includes('--stop');
  // The demo prints its own progress; the SDK's info logs (webpack output, worker states) are noise here.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  console.log('starting the local stack (Temporal dev server + Web UI, BigQuery emulator, local VM)…');
  const stack = await startLocalStack();
  console.log(describeStack(stack));

  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_UI_URL: stack.temporal.uiUrl,
    BIGQUERY_PROJECT: stack.bigquery.projectId,
    BIGQUERY_API_ENDPOINT: stack.bigquery.apiEndpoint,
  });
  const vm = () => ({
    host: '127.0.0.1',
    port: stack.vm.port,
    username: userInfo().username,
    privateKey: readFileSync(join(stack.vm.dir, 'client_ed25519')),
    hostKey: publicKeyBlob(join(stack.vm.dir, 'host_ed25519_key.pub')),
  });
  const { worker, connection: workerConnection } = await createWorker({
    config,
    bigquery: createBigQueryClient(config),
    vm,
  });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const workflowId = `stack-check/${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const runUrl = `${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
  try {
    const result = await worker.runUntil(async () => {
      const handle = await client.workflow.start(stackCheck, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        workflowId,
        args: [{ dataset: 'smc_demo', withVm: true }],
      });
      console.log(`\nrun started: ${workflowId}\n  follow it in the Web UI: ${runUrl}`);
      return await handle.result();
    });
    console.log('\nrun finished:');
    console.log(
      `  warehouse: smc_demo.visits has ${result.warehouse.rows} rows, ${result.warehouse.total} visits`,
    );
    console.log(`  VM (tmux over SSH): ${result.vmOutput?.replace(/\n/g, ' | ')}`);
    console.log(`\nwhere to look:\n  Web UI      ${runUrl}\n  logs        ${stack.logs}`);
  } finally {
    await connection.close();
    await workerConnection.close();
    if (stopAtEnd) await stopLocalStack();
  }
  console.log(
    stopAtEnd
      ? '\nlocal stack stopped.'
      : '\nthe local stack keeps running; stop it with: npm run stack -- stop',
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});

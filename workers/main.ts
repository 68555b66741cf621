// Worker process entry point: `npm run worker` (dev) or `node dist/workers/main.js` (docker-compose).
// The SDK drains in-flight tasks on SIGINT/SIGTERM before worker.run() resolves.
import { createBigQueryClient } from '../activities/clients';
import { loadConfig } from '../config';
import { createWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const { worker, connection } = await createWorker({
    config,
    bigquery: createBigQueryClient(config),
    notify: config,
    full: config,
  });
  console.log(`worker polling ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

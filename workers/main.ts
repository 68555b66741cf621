// Worker process entry point: `npm run worker` (dev) or `node dist/workers/main.js` (docker-compose).
// Run as many as you like on the same queues: they share every run's steps (Temporal hands each task
// to one of them; a step of a worker that dies is retried on another). `WORKER_ROLE` picks the queues.
// The SDK drains in-flight tasks on SIGINT/SIGTERM before worker.run() resolves.
import { createBigQueryClient } from '../activities/clients';
import { loadConfig } from '../config';
import { installWorkerTelemetry } from './telemetry';
import { createWorkers } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  // JSON logs at LOG_LEVEL and Prometheus metrics at WORKER_METRICS_ADDRESS, before any connection.
  const { logger } = installWorkerTelemetry(config);
  const { workers, connection } = await createWorkers({
    config,
    bigquery: createBigQueryClient(config),
    notify: config,
    full: config,
  });
  logger.info(
    {
      pid: process.pid,
      role: config.WORKER_ROLE,
      queues: workers.map((w) => w.queue),
      metrics: config.WORKER_METRICS_ADDRESS || undefined,
    },
    `worker polling ${workers.map((w) => w.queue).join(' and ')} on ${config.TEMPORAL_ADDRESS}`,
  );
  try {
    // One stops, all stop: a process never keeps serving only half of its queues.
    await Promise.all(
      workers.map(async ({ worker }) => {
        try {
          await worker.run();
        } finally {
          for (const other of workers) if (other.worker.getState() === 'RUNNING') other.worker.shutdown();
        }
      }),
    );
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

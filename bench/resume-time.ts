// Time to resume monitoring after a worker is SIGKILLed mid-training: from the kill until a new
// attempt of the monitor, in a freshly started worker process, heartbeats progress again. It is
// bounded by the heartbeat timeout (the server only then notices the dead worker) plus the retry
// interval and the new worker's start-up.
//
//   npx tsx bench/resume-time.ts [--runs 3] [--heartbeat-timeout 3s]
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { trainOnVm } from '../workflows/train-on-vm';
import { createDevServerEnv } from '../test/harness/temporal';
import {
  createTrainingStack,
  launchCount,
  startWorkerProcess,
  stopAll,
  trainerInput,
  waitForResumedMonitor,
  waitForStep,
} from '../test/integration/fixtures/training';

const arg = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const runs = Number(arg('--runs', '3'));
  const heartbeatTimeout = arg('--heartbeat-timeout', '3s');
  const env = await createDevServerEnv();
  const stack = createTrainingStack('bench-resume');
  const figures: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const taskQueue = `resume-${randomUUID()}`;
      const trainingId = `resume-${randomUUID().slice(0, 6)}`;
      const input = trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '80', TRAINER_STEP_SECONDS: '0.25' },
      });
      input.monitor = { ...input.monitor, heartbeatTimeout: heartbeatTimeout as '3s' };
      const first = startWorkerProcess(stack, env.address, taskQueue);
      await first.ready;
      const handle = await env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue,
      });
      const before = await waitForStep(env.client, trainingId, 5);
      await first.kill();
      const killedAt = Date.now();
      const second = startWorkerProcess(stack, env.address, taskQueue);
      try {
        await waitForResumedMonitor(env.client, trainingId, before.live.lastMetric?.step ?? 0);
        figures.push(Date.now() - killedAt);
        const result = await handle.result();
        console.log(
          `  run ${run + 1}: resumed after ${figures.at(-1)} ms; ${result.status}, launches ${launchCount(stack, trainingId)}`,
        );
      } finally {
        await second.stop();
      }
    }
  } finally {
    await stopAll(stack);
    await env.teardown();
  }
  const sorted = [...figures].sort((a, b) => a - b);
  console.log(`time to resume after a worker kill (heartbeat timeout ${heartbeatTimeout}, ${runs} runs):`);
  console.log(
    `  min ${sorted[0]} ms, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

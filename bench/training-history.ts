// History size of one training step for a "1-minute" and a "30-minute" training, run for real on the
// local stack (dev server, local VM, tmux, the test trainer).
//
// Honest at a compressed clock: with --scale 30 (default) the trainings last 2 s and 60 s and the
// monitor polls every 0.5 s instead of production's 15 s, so each run makes exactly as many polls,
// SSH execs and heartbeats as the real 1-minute and 30-minute trainings would (4 and 120). History
// must not depend on any of them. `--scale 1` runs the real durations (31 minutes).
//
//   npx tsx bench/training-history.ts [--scale 30]
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createTrainingActivities } from '../activities/training';
import { trainOnVm } from '../workflows/train-on-vm';
import { createDevServerEnv } from '../test/harness/temporal';
import {
  createTrainingStack,
  stopAll,
  trainOnVmPath,
  trainerInput,
} from '../test/integration/fixtures/training';

const PRODUCTION_POLL_MS = 15_000;

function scaleArg(): number {
  const index = process.argv.indexOf('--scale');
  const scale = index >= 0 ? Number(process.argv[index + 1]) : 30;
  if (!(scale >= 1)) throw new Error('--scale must be a number ≥ 1');
  return scale;
}

async function main(): Promise<void> {
  const scale = scaleArg();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  const stack = createTrainingStack('bench-history');
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: trainOnVmPath,
    activities: createTrainingActivities({ provider: stack.provider, registryDir: stack.registryDir }),
  });
  const rows: string[] = [];
  const counts: number[] = [];
  try {
    await worker.runUntil(async () => {
      for (const minutes of [1, 30]) {
        const trainingMs = (minutes * 60_000) / scale;
        const steps = 20;
        const trainingId = `bench-${minutes}m-${randomUUID().slice(0, 6)}`;
        const input = trainerInput(stack, trainingId, {
          env: { TRAINER_STEPS: String(steps), TRAINER_STEP_SECONDS: String(trainingMs / steps / 1000) },
          maxDuration: `${minutes * 2} minutes`,
        });
        input.monitor = { ...input.monitor, pollInterval: PRODUCTION_POLL_MS / scale };
        const started = Date.now();
        const result = await env.client.workflow.execute(trainOnVm, {
          args: [input],
          workflowId: trainingId,
          taskQueue,
        });
        const history = await env.client.workflow.getHandle(trainingId).fetchHistory();
        const events = history.events?.length ?? 0;
        counts.push(events);
        rows.push(
          `${String(minutes).padStart(2)}-minute training: ${result.status}, ${Math.round(result.trainingMs / 1000)} s on the VM ` +
            `(${Math.round((Date.now() - started) / 1000)} s wall), ${result.attempts[0]?.polls ?? 0} polls/heartbeats → ${events} history events`,
        );
      }
    });
  } finally {
    await stopAll(stack);
    await env.teardown();
  }
  console.log(
    `training history bench (clock compressed ×${scale}; poll every ${PRODUCTION_POLL_MS / scale} ms)`,
  );
  for (const row of rows) console.log(`  ${row}`);
  console.log(
    counts[0] === counts[1] ? '  equal: history does not grow with training duration' : '  NOT EQUAL',
  );
  if (counts[0] !== counts[1]) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

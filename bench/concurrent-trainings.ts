// Many concurrent trainings monitored by ONE worker process: its CPU and memory while every monitor
// polls its training over SSH at the production interval (15 s) and heartbeats. Target: ≤ 1 core and
// ≤ 500 MB RSS for 200 trainings.
//
// The trainings are real tmux jobs behind real sshd's (local VMs, `--vms` of them shared by the
// trainings, as a worker sees many VMs), launched and monitored by the real activities; each writes a
// metrics.jsonl line per second. Only the worker runs in this process (the dev server, sshd's and
// trainings are other processes), so process.cpuUsage() and the RSS are the worker's own.
//
//   npx tsx bench/concurrent-trainings.ts [--trainings 200] [--vms 10] [--seconds 120] [--poll-ms 15000]
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createTrainingActivities } from '../activities/training';
import { createDevServerEnv } from '../test/harness/temporal';
import { createTrainingStack, stopAll } from '../test/integration/fixtures/training';
import type { MonitorOnlyInput } from './fixtures/monitor-only';

function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const trainings = arg('trainings', 200);
  const vmCount = arg('vms', 10);
  const seconds = arg('seconds', 120);
  const pollMs = arg('poll-ms', 15_000);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  const stack = createTrainingStack('bench-concurrent');
  const code = join(stack.dir, 'code');
  mkdirSync(code, { recursive: true });
  // A training that reports a step and a loss every second for `seconds`, then exits 0.
  writeFileSync(
    join(code, 'train.sh'),
    `for i in $(seq 1 ${seconds}); do echo "{\\"step\\": $i, \\"loss\\": $((100000 / (i + 1)))e-5}" >> "$METRICS_FILE"; sleep 1; done\n`,
  );
  const vms = Array.from({ length: vmCount }, (_, index) => `bench-vm-${index}`);
  await Promise.all(
    vms.map((name) => stack.provider.provision({ name, machineImage: 'cpu-python-template-prod' })),
  );
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: resolve(__dirname, 'fixtures', 'monitor-only.ts'),
    activities: createTrainingActivities({ provider: stack.provider, registryDir: stack.registryDir }),
    maxConcurrentActivityTaskExecutions: trainings + 50,
  });
  const samples: { rss: number; heap: number }[] = [];
  let cpu = { before: process.cpuUsage(), at: Date.now() };
  let window = { cpuMs: 0, wallMs: 0 };
  try {
    await worker.runUntil(async () => {
      const handles = await Promise.all(
        Array.from({ length: trainings }, (_, index) => {
          const input: MonitorOnlyInput = {
            trainingId: `bench-${index}-${randomUUID().slice(0, 6)}`,
            vmName: vms[index % vms.length]!,
            codePath: code,
            pollIntervalMs: pollMs,
          };
          return env.client.workflow.start('monitorOnly', {
            args: [input],
            workflowId: input.trainingId,
            taskQueue,
          });
        }),
      );
      // Measure once every training is monitored: after the uploads and launches, until they end.
      await waitUntilMonitoring(
        env.client,
        handles.map((handle) => handle.workflowId),
      );
      cpu = { before: process.cpuUsage(), at: Date.now() };
      const sampler = setInterval(() => {
        const memory = process.memoryUsage();
        samples.push({ rss: memory.rss, heap: memory.heapUsed });
      }, 2000);
      const results = await Promise.all(handles.map((handle) => handle.result()));
      clearInterval(sampler);
      const used = process.cpuUsage(cpu.before);
      window = { cpuMs: (used.user + used.system) / 1000, wallMs: Date.now() - cpu.at };
      const exited = results.filter((result) => result.kind === 'exited' && result.exitCode === 0).length;
      console.log(`${exited}/${trainings} trainings exited 0`);
    });
  } finally {
    await stopAll(stack);
    await env.teardown();
  }
  const cores = window.cpuMs / window.wallMs;
  const peakRss = Math.max(...samples.map((sample) => sample.rss)) / 2 ** 20;
  const peakHeap = Math.max(...samples.map((sample) => sample.heap)) / 2 ** 20;
  console.log(
    `concurrent trainings bench: ${trainings} trainings on ${vmCount} local VMs, one worker, poll every ${pollMs} ms`,
  );
  console.log(
    `  while all were monitored (${Math.round(window.wallMs / 1000)} s): CPU ${cores.toFixed(3)} cores, peak RSS ${peakRss.toFixed(0)} MB (heap ${peakHeap.toFixed(0)} MB)`,
  );
  console.log(`  target ≤ 1 core and ≤ 500 MB: ${cores <= 1 && peakRss <= 500 ? 'met' : 'NOT MET'}`);
}

/** Resolves when every workflow has a started monitorTraining activity. */
async function waitUntilMonitoring(
  client: Awaited<ReturnType<typeof createDevServerEnv>>['client'],
  ids: string[],
): Promise<void> {
  const pending = new Set(ids);
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const description = await client.workflow.getHandle(id).describe();
      if (description.raw.pendingActivities?.some((a) => a.activityType?.name === 'monitorTraining'))
        pending.delete(id);
    }
    if (pending.size > 0) await new Promise((done) => setTimeout(done, 1000));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

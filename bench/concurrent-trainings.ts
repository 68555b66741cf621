// Many concurrent trainings monitored by ONE worker process: its CPU and memory while every monitor
// polls its training over SSH at the production interval (15 s) and heartbeats. Target: ≤ 1 core and
// ≤ 500 MB RSS for 200 trainings.
//
// The trainings are real tmux jobs behind real sshd's (local VMs, `--vms` of them shared by the
// trainings, as a worker sees many VMs), uploaded, launched and monitored by the real activities;
// each writes a metrics.jsonl line every 5 s until the bench tells them all to stop. They are
// started in batches (`--batch`, each batch monitored before the next starts) so a busy dev server
// keeps up; the measure is a window of `--seconds` once all of them are monitored at once. Only the
// worker runs in this process (the dev server, sshd's and trainings are other processes), so
// process.cpuUsage() and the RSS are the worker's own.
//
//   npm run bench -- concurrent-trainings [--trainings 200] [--vms 10] [--seconds 120] [--poll-ms 15000] [--batch 20]
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
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
  const batch = arg('batch', 20);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB`;
  const loadBefore = loadavg()[0]!;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  const stack = createTrainingStack('bench-concurrent');
  const code = join(stack.dir, 'code');
  const stopFile = join(stack.dir, 'stop');
  mkdirSync(code, { recursive: true });
  // A training that reports a step and a loss every 5 s (cheap for 200 on a small machine; the
  // monitor reads every poll) until the stop file appears (the local VMs share this disk), ≤ 2 hours.
  const quoted = `'${stopFile.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    join(code, 'train.sh'),
    `i=0; while [ ! -e ${quoted} ] && [ $i -lt 1440 ]; do i=$((i + 1)); echo "{\\"step\\": $i, \\"loss\\": $((100000 / (i + 1)))e-5}" >> "$METRICS_FILE"; sleep 5; done\n`,
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
  let peakRssAll = 0;
  const overall = setInterval(() => (peakRssAll = Math.max(peakRssAll, process.memoryUsage().rss)), 1000);
  const samples: { rss: number; heap: number }[] = [];
  let window = { cpuMs: 0, wallMs: 0 };
  let exited = 0;
  const started = Date.now();
  let rampMs = 0;
  try {
    await worker.runUntil(async () => {
      const handles: Awaited<ReturnType<typeof env.client.workflow.start>>[] = [];
      for (let first = 0; first < trainings; first += batch) {
        const next = await Promise.all(
          Array.from({ length: Math.min(batch, trainings - first) }, (_, offset) => {
            const index = first + offset;
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
        handles.push(...next);
        await waitUntilMonitoring(
          env.client,
          next.map((handle) => handle.workflowId),
        );
        console.log(
          `  ${handles.length}/${trainings} monitored (${Math.round((Date.now() - started) / 1000)} s)`,
        );
      }
      rampMs = Date.now() - started;
      // The window: every training monitored, each polled every pollMs and heartbeating.
      const before = process.cpuUsage();
      const at = Date.now();
      const sampler = setInterval(() => {
        const memory = process.memoryUsage();
        samples.push({ rss: memory.rss, heap: memory.heapUsed });
      }, 1000);
      await new Promise((done) => setTimeout(done, seconds * 1000));
      clearInterval(sampler);
      const used = process.cpuUsage(before);
      window = { cpuMs: (used.user + used.system) / 1000, wallMs: Date.now() - at };
      writeFileSync(stopFile, '');
      const results = await Promise.all(handles.map((handle) => handle.result()));
      exited = results.filter((result) => result.kind === 'exited' && result.exitCode === 0).length;
    });
  } finally {
    clearInterval(overall);
    writeFileSync(stopFile, '');
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
    `  machine: ${machine}; load average ${loadBefore.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
  );
  console.log(
    `  ${exited}/${trainings} trainings exited 0; all monitored after ${Math.round(rampMs / 1000)} s`,
  );
  console.log(
    `  while all were monitored (${Math.round(window.wallMs / 1000)} s): CPU ${cores.toFixed(3)} cores, peak RSS ${peakRss.toFixed(0)} MB (heap ${peakHeap.toFixed(0)} MB)`,
  );
  console.log(
    `  peak RSS over the whole run (uploads and launches included): ${(peakRssAll / 2 ** 20).toFixed(0)} MB`,
  );
  console.log(`  target ≤ 1 core and ≤ 500 MB: ${cores <= 1 && peakRss <= 500 ? 'met' : 'NOT MET'}`);
  if (exited !== trainings) process.exitCode = 1;
}

/**
 * Resolves when every workflow has a started monitorTraining activity; fails when one closed first
 * (its training ended or failed before being monitored) instead of waiting forever.
 */
async function waitUntilMonitoring(
  client: Awaited<ReturnType<typeof createDevServerEnv>>['client'],
  ids: string[],
  timeoutMs = 20 * 60_000,
): Promise<void> {
  const pending = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const description = await client.workflow.getHandle(id).describe();
      if (description.status.name !== 'RUNNING') {
        throw new Error(`${id} ended (${description.status.name}) before it was monitored`);
      }
      if (description.raw.pendingActivities?.some((a) => a.activityType?.name === 'monitorTraining'))
        pending.delete(id);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${pending.size} trainings not monitored after ${timeoutMs / 1000} s`);
    await new Promise((done) => setTimeout(done, 2000));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// The chaos run: visits-scaling on a local stack of its own while workers are SIGKILLed (one of them
// inside a training's launch), every SSH connection is cut and the Temporal dev server restarts, at
// seeded random moments; then the checks of ./checks.ts. `npm run chaos` and test/e2e/chaos.test.ts.
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBigQueryClient } from '../../activities/clients';
import { projectRoot } from '../../activities/providers/paths';
import { freePort } from '../../activities/providers/process';
import { loadConfig } from '../../config';
import { prepareVisitsScalingWarehouse } from '../../pipelines/visits-scaling/synthetic/warehouse';
import { Rng } from '../../pipelines/visits-scaling/synthetic/random';
import { statusQuery, type RunStatus } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { buildWorkflowBundle } from '../build-workflow-bundle';
import { restartTemporal, startLocalStack, stopLocalStack } from '../stack/local-stack';
import { checkRun, type ChaosCheck, type LockWait } from './checks';
import { cutSshConnections, LaunchHold, runsAwaitingLaunch } from './faults';
import { findLaunch } from './launches';
import { startWorkerProcess, type WorkerProcess } from './workers';

export interface ChaosOptions {
  /** A fresh folder for everything: the stack's state, warehouse, registry, VMs, logs. */
  dir: string;
  seed: number;
  /** Worker processes running at once. */
  workers: number;
  /** Start a new worker for each one killed (else the survivors finish the run). */
  replaceKilled: boolean;
  /** Worker kills in all; the first lands inside a training's launch. */
  workerKills: number;
  sshCuts: number;
  serverRestarts: number;
  /** Training time per model (the real ones run for hours). */
  trainSeconds: number;
  /** The random faults fall within this many seconds after the run starts (none after it ends). */
  spreadSeconds: number;
  /** The run must end within this long. */
  timeoutMs: number;
  print?: (line: string) => void;
}

export interface FaultEvent {
  atMs: number;
  kind:
    | 'worker-kill'
    | 'worker-start'
    | 'ssh-cut'
    | 'server-restart'
    | 'launch-held'
    | 'launch-released'
    | 'skipped';
  detail: string;
}

export interface ChaosReport {
  workflowId: string;
  seed: number;
  durationMs: number;
  state: string;
  injected: {
    workerKills: number;
    killsInsideLaunch: number;
    sshCuts: number;
    connectionsCut: number;
    serverRestarts: number;
  };
  /** Retried launches: the double-launch guard's work. */
  launchRetries: number;
  workers: { started: string[]; killed: string[]; ranTasks: string[] };
  events: FaultEvent[];
  checks: ChaosCheck[];
  ok: boolean;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const started = Date.now();
  const rng = new Rng(options.seed);
  const events: FaultEvent[] = [];
  const note = (kind: FaultEvent['kind'], detail: string) => {
    const atMs = Date.now() - started;
    events.push({ atMs, kind, detail });
    print(`  [${(atMs / 1000).toFixed(1).padStart(6)} s] ${kind.padEnd(15)} ${detail}`);
  };
  const dir = options.dir;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const env: Record<string, string> = {
    DATA_DIR: dir,
    REGISTRY_DIR: join(dir, 'registry'),
    LOCAL_VM_ROOT: join(dir, 'vms'),
    VM_PROVIDER: 'local',
    STACK_TEMPORAL_PORT: String(await freePort()),
    STACK_TEMPORAL_UI_PORT: String(await freePort()),
    STACK_BIGQUERY_PORT: String(await freePort()),
  };
  const saved = Object.fromEntries(
    [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_TASK_QUEUE',
      'BIGQUERY_PROJECT',
      'BIGQUERY_API_ENDPOINT',
      ...Object.keys(env),
    ].map((key) => [key, process.env[key]]),
  );
  Object.assign(process.env, env);

  const workers: WorkerProcess[] = [];
  const holds = new Set<LaunchHold>();
  // When a live attempt of a launch was blocked on our hold: not counted as recovery time.
  const lockWaits: LockWait[] = [];
  let connection: Connection | undefined;
  try {
    print(`chaos: seed ${options.seed}, ${options.workers} worker(s), state in ${dir}`);
    const stack = await startLocalStack();
    const queue = `chaos-${options.seed}-${Date.now().toString(36)}`;
    Object.assign(env, {
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_TASK_QUEUE: queue,
      TEMPORAL_TASK_QUEUE_TRAINING: `${queue}-training`,
      WORKER_ROLE: 'all',
      BIGQUERY_PROJECT: stack.bigquery.projectId,
      BIGQUERY_API_ENDPOINT: stack.bigquery.apiEndpoint,
    });
    Object.assign(process.env, env);
    const config = loadConfig();
    const bigquery = createBigQueryClient(config);
    print(
      `  stack: Temporal ${stack.temporal.address} (Web UI ${stack.temporal.uiUrl}), BigQuery ${stack.bigquery.apiEndpoint}`,
    );
    const preparing = prepareVisitsScalingWarehouse({
      bigquery,
      config,
      registryDir: env.REGISTRY_DIR!,
      dir: join(dir, 'warehouse-files'),
      synthetic: { seed: 5, metAreas: [0, 11, 22, 5], poisPerArea: 3, days: 120, panelFraction: 0.5 },
    });
    preparing.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    const workerEnv = { ...env, WORKFLOW_BUNDLE: await buildWorkflowBundle(join(dir, 'workflow-bundle.js')) };
    let workerCount = 0;
    const startWorker = () => {
      const worker = startWorkerProcess(workerEnv, join(dir, 'logs', `worker-${++workerCount}.log`));
      workers.push(worker);
      return worker;
    };
    // Workers start (and compile) while the warehouse loads.
    const [warehouse] = await Promise.all([
      preparing,
      ...Array.from({ length: options.workers }, () => startWorker().ready),
    ]);
    for (const worker of workers) note('worker-start', worker.identity);

    connection = await Connection.connect({ address: stack.temporal.address });
    const client = new Client({ connection });
    const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const workflowId = `visits-scaling/chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const handle = await client.workflow.start(runPipeline, {
      args: [
        {
          pipeline: 'visits-scaling',
          cutoff: warehouse.cutoff,
          params: {
            train_seconds: options.trainSeconds,
            train_steps: 1_000_000,
            monitor_poll_interval: '1 second',
            monitor_heartbeat_timeout: '5 seconds',
            quality_min_training: '3 seconds',
            require_approval: false,
            cleanup_outputs: false,
            models_repo: projectRoot,
            models_ref: commit,
          },
        },
      ],
      workflowId,
      taskQueue: queue,
    });
    print(`  run ${workflowId} started (cutoff ${warehouse.cutoff})`);
    const runStarted = Date.now();
    let done = false;
    const outcome = handle.result().then(
      () => undefined,
      (error: unknown) => error,
    );

    const killed: string[] = [];
    const injected = {
      workerKills: 0,
      killsInsideLaunch: 0,
      sshCuts: 0,
      connectionsCut: 0,
      serverRestarts: 0,
    };
    const kill = async (worker: WorkerProcess, why: string) => {
      await worker.kill();
      killed.push(worker.identity);
      injected.workerKills++;
      note('worker-kill', `${worker.identity} ${why}`);
      if (options.replaceKilled) {
        const next = startWorker();
        await next.ready.then(
          () => note('worker-start', next.identity),
          (error: unknown) => note('skipped', `replacement worker ${next.identity}: ${String(error)}`),
        );
      }
    };

    // A worker kill inside a launch: hold the launch lock on the VM, kill the worker whose launch
    // waits on it, let the retry (another worker) reach the lock too, then release both.
    const killInsideLaunch = async () => {
      const tried = new Set<string>();
      while (!done && injected.killsInsideLaunch < 1 && options.workerKills > 0) {
        const run = runsAwaitingLaunch(env.LOCAL_VM_ROOT!).find((r) => !tried.has(r.dir));
        if (!run) {
          await sleep(50);
          continue;
        }
        tried.add(run.dir);
        const hold = await LaunchHold.take(run.dir);
        if (!hold) continue;
        holds.add(hold);
        note('launch-held', `${run.runId} on ${run.vmName}`);
        // From when an attempt started until its worker is killed, and from when the retry started
        // until the release, a live attempt waits on our hold (by design). Start times come from the
        // server (the attempt's lastStartedTime), else from when we saw it (errs towards counting).
        let waitingSince: number | undefined;
        try {
          const launch = await findLaunch(client, workflowId, run.runId, 1, 60_000).catch(
            (error: unknown) => {
              note('skipped', String(error));
              return undefined;
            },
          );
          if (!launch) continue;
          waitingSince = Math.max(hold.takenAt, launch.startedAt ?? Date.now());
          const worker = workers.find((w) => w.identity === launch.identity && w.alive());
          if (!worker) {
            note(
              'skipped',
              `the launch of ${run.runId} runs on ${launch.identity}, not a live worker of ours`,
            );
            continue;
          }
          lockWaits.push({ runId: run.runId, from: waitingSince, to: Date.now() });
          waitingSince = undefined;
          await kill(worker, `inside the launch of ${run.runId}`);
          injected.killsInsideLaunch++;
          await findLaunch(client, workflowId, run.runId, 2, 90_000).then(
            (retry) => {
              waitingSince = retry.startedAt ?? Date.now();
              note('launch-held', `${run.runId}: the retry on ${retry.identity} waits on the lock too`);
            },
            () => note('skipped', `no retry of the launch of ${run.runId} reached the lock within 90 s`),
          );
        } finally {
          if (waitingSince !== undefined)
            lockWaits.push({ runId: run.runId, from: waitingSince, to: Date.now() });
          hold.release();
          holds.delete(hold);
          note('launch-released', run.runId);
        }
      }
    };

    // The other faults at seeded random moments within the spread.
    const plan = [
      ...Array.from({ length: Math.max(0, options.workerKills - 1) }, () => 'kill' as const),
      ...Array.from({ length: options.sshCuts }, () => 'ssh' as const),
      ...Array.from({ length: options.serverRestarts }, () => 'restart' as const),
    ]
      .map((kind) => ({ kind, atMs: 3000 + rng.float() * options.spreadSeconds * 1000 }))
      .sort((a, b) => a.atMs - b.atMs);
    const randomFaults = async () => {
      for (const fault of plan) {
        while (!done && Date.now() - runStarted < fault.atMs) await sleep(100);
        if (done) return;
        if (fault.kind === 'ssh') {
          // A moment without any connection (no VM yet, between polls) waits a little for one.
          let cut = cutSshConnections(env.LOCAL_VM_ROOT!);
          for (let i = 0; cut === 0 && i < 75 && !done; i++) {
            await sleep(200);
            cut = cutSshConnections(env.LOCAL_VM_ROOT!);
          }
          injected.sshCuts++;
          injected.connectionsCut += cut;
          note('ssh-cut', `${cut} connection(s) cut`);
        } else if (fault.kind === 'restart') {
          const began = Date.now();
          await restartTemporal();
          injected.serverRestarts++;
          note('server-restart', `Temporal back after ${((Date.now() - began) / 1000).toFixed(1)} s`);
        } else {
          // Only workers that poll: one still starting is not yet part of the run.
          let live = workers.filter((w) => w.isReady());
          for (let i = 0; live.length === 0 && i < 300 && !done; i++) {
            await sleep(200); // a replacement still starting
            live = workers.filter((w) => w.isReady());
          }
          if (live.length === 0 || (!options.replaceKilled && live.length <= 1)) {
            note('skipped', 'worker kill: no worker to spare (the last one, or none polling yet)');
            continue;
          }
          await kill(rng.pick(live), 'at a random moment');
        }
      }
    };

    const faultErrors: string[] = [];
    const faultFailed = (error: unknown) => {
      faultErrors.push(String(error));
      note('skipped', `fault injection failed: ${String(error)}`);
    };
    const stopTimer = new AbortController();
    const timeout = sleep(options.timeoutMs, undefined, { signal: stopTimer.signal }).then(
      () => new Error(`the run did not end within ${options.timeoutMs / 1000} s`),
      () => undefined,
    );
    const [error] = await Promise.all([
      Promise.race([outcome, timeout]).finally(() => {
        done = true;
        stopTimer.abort();
      }),
      killInsideLaunch().catch(faultFailed),
      randomFaults().catch(faultFailed),
    ]);
    const status: RunStatus = await handle.query(statusQuery);
    print(`  run ended: ${status.state}${error ? ` (${String(error)})` : ''}`);

    const { checks, histories, launchRetries } = await checkRun({
      client,
      bigquery,
      workflowId,
      status,
      registryDir: env.REGISTRY_DIR!,
      previousVersion: warehouse.previousVersion,
      recoveryLimitMs: 180_000,
      lockWaits,
    });
    const planned = options.workerKills + options.sshCuts + options.serverRestarts;
    const made = injected.workerKills + injected.sshCuts + injected.serverRestarts;
    checks.push({
      name: 'every planned fault was injected',
      ok:
        made === planned &&
        faultErrors.length === 0 &&
        (options.workerKills === 0 || injected.killsInsideLaunch > 0),
      detail: `${made} of ${planned}; ${injected.killsInsideLaunch} worker kill(s) inside a launch${
        faultErrors.length ? `; errors: ${faultErrors.join('; ')}` : ''
      }`,
    });
    const ranTasks = [...new Set(histories.flatMap((h) => [...h.identities]))];
    const monitorQueues = [
      ...new Set(
        histories.flatMap((h) =>
          h.activities.filter((a) => a.type === 'monitorTraining').map((a) => a.taskQueue),
        ),
      ),
    ];
    checks.push({
      name: 'trainings were monitored on their own task queue',
      ok: monitorQueues.length === 1 && monitorQueues[0] === env.TEMPORAL_TASK_QUEUE_TRAINING,
      detail: `monitorTraining scheduled on ${monitorQueues.join(', ') || 'no queue'} (pipeline queue ${queue})`,
    });
    return {
      workflowId,
      seed: options.seed,
      durationMs: Date.now() - runStarted,
      state: status.state,
      injected,
      launchRetries,
      workers: { started: workers.map((w) => w.identity), killed, ranTasks },
      events,
      checks,
      ok: !error && checks.every((c) => c.ok),
    };
  } finally {
    for (const hold of holds) hold.release();
    await Promise.all(workers.map((worker) => worker.stop()));
    await connection?.close();
    await stopLocalStack({ vms: true });
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The report as a few lines for a terminal. */
export function formatReport(report: ChaosReport): string {
  const i = report.injected;
  return [
    `chaos run ${report.workflowId} (seed ${report.seed}): ${report.state} in ${(report.durationMs / 1000).toFixed(0)} s`,
    `  faults: ${i.workerKills} worker kills (${i.killsInsideLaunch} inside a launch), ${i.sshCuts} SSH cuts (${i.connectionsCut} connections), ${i.serverRestarts} Temporal restarts`,
    `  double-launch guard: ${report.launchRetries} retried launch(es)`,
    `  workers: ${report.workers.started.length} started, ${report.workers.killed.length} killed, ${report.workers.ranTasks.length} ran tasks of this run`,
    ...report.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
    report.ok ? 'CHAOS PASSED' : 'CHAOS FAILED',
  ].join('\n');
}

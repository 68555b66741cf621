import type { INestApplication } from '@nestjs/common';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { trainingIds, type TrainingStepActivities } from '../../activities/kinds/training';
import { createPlanActivities } from '../../activities/plan';
import { freePort } from '../../activities/providers/process';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { createReaperActivities } from '../../activities/reaper';
import type { TrainingActivities } from '../../activities/training';
import { judgeAttempt } from '../../activities/training/judge';
import { createVmActivities } from '../../activities/vm';
import { loadConfig } from '../../config';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { reapVms } from '../../workflows/reap-vms';
import { runPipeline } from '../../workflows/run-pipeline';
import type { MonitorHeartbeat } from '../../workflows/training-types';
import { ownerLabels } from '../../workflows/vm-labels';
import { installWorkerTelemetry, stepAttributes } from '../../workers/telemetry';
import { looseKind } from '../harness/kinds';
import { testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

/** Collects JSON log lines written by pino. */
class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

const pipeline = definePipeline('observed', { parameters: {} })
  .step('gpu.train', { kind: 'train', retry: { maximumAttempts: 1 } })
  .build();

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`never ${what}: ${String(value).slice(0, 3000)}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/**
 * Metrics and logs of both processes on a real dev server: the worker's runtime (installed once for
 * this test process, as workers/main.ts does) with Prometheus on a free port and pino at `info`;
 * the API with `/metrics` and pino at `warn`. A training step whose monitor reports step 7 and loss
 * 0.25, then a reaper dry run over one orphaned local VM.
 */
describe('metrics and JSON logs (worker runtime telemetry, API /metrics)', () => {
  const workerLogs = new Lines();
  const apiLogs = new Lines();
  let metricsUrl: string;
  let env: TestWorkflowEnvironment;
  let app: INestApplication;
  let api: string;
  let vmRoot: string;

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    // test/setup.ts installed a quiet runtime for every test process; nothing uses it yet, so it is
    // replaced by the worker's own (Runtime.install refuses a second one while the first is alive).
    await Runtime.instance().shutdown();
    installWorkerTelemetry({ LOG_LEVEL: 'info', WORKER_METRICS_ADDRESS: `127.0.0.1:${port}` }, workerLogs);
    env = await createDevServerEnv();
    app = await createApp(
      loadConfig({
        TEMPORAL_ADDRESS: env.address,
        API_TOKENS: 'metrics:viewer:metrics-token',
        LOG_LEVEL: 'warn',
      }),
      { logDestination: apiLogs },
    );
    await app.listen(0, '127.0.0.1');
    api = await app.getUrl();
    vmRoot = join(testTempDir('observability'), 'vms');
  });
  afterAll(async () => {
    await app?.close();
    await env?.teardown();
    if (vmRoot) {
      const provider = new LocalVmProvider({
        root: vmRoot,
        imagesDir: resolve(projectRoot, 'machine-images'),
      });
      for (const vm of await provider.list()) await provider.delete(vm.name);
      rmSync(vmRoot, { recursive: true, force: true });
    }
  });

  const scrapeApi = async (token = 'metrics-token') =>
    await fetch(`${api}/metrics`, { headers: { Authorization: `Bearer ${token}` } });

  it('serves runs by state, step and loss of live trainings, step durations, VM hours, cost and reaper actions', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stepActivities: TrainingStepActivities = {
      prepareTrainingStep: async (execution) => {
        Context.current().log.info('preparing the training');
        const { trainingId, vmName } = trainingIds(execution);
        return {
          trainingId,
          vm: {
            name: vmName,
            machineType: 'n1-standard-8',
            labels: { pipeline: 'observed', step: 'gpu_train' },
          },
          code: { kind: 'folder', path: '.' },
          command: 'true',
          maxDuration: '1 hour',
          monitor: { heartbeatTimeout: '10 seconds' },
        };
      },
      discardTrainingInputs: async () => undefined,
      finishTrainingStep: async (input) => ({ outputs: input.execution.outputs, info: {} }),
    };
    const beat = (runId: string): MonitorHeartbeat => ({
      runId,
      logOffset: 0,
      metricsOffset: 0,
      lastMetric: { step: 7, loss: 0.25 },
      metrics: { count: 2, firstLoss: 1, minLoss: 0.25, lastLoss: 0.25, invalid: 0 },
      reconnects: 0,
      polls: 1,
      elapsedMs: 1000,
      logTail: '',
    });
    const training: TrainingActivities = {
      provisionTrainingVm: async (spec) => ({ name: spec.name, status: 'RUNNING', labels: {} }),
      waitForTrainingSsh: async () => undefined,
      uploadTrainingRun: async () => ({ uploaded: true }),
      launchTraining: async () => ({ state: 'launched' }),
      monitorTraining: async (input) => {
        Context.current().heartbeat(beat(input.runId));
        const timer = setInterval(() => Context.current().heartbeat(beat(input.runId)), 1000);
        await released.finally(() => clearInterval(timer));
        return { kind: 'exited', exitCode: 0, progress: beat(input.runId) };
      },
      judgeTraining: async (input) => judgeAttempt(input),
      killTraining: async () => ({ stopped: true }),
      collectTrainingOutputs: async (input) => ({ dir: `/registry/${input.trainingId}` }),
      teardownTrainingVm: async () => undefined,
    };
    const provider = new LocalVmProvider({ root: vmRoot, imagesDir: resolve(projectRoot, 'machine-images') });
    await provider.provision({
      name: 'orphan',
      machineImage: 'cpu-python-template-prod',
      labels: { run_id: 'gone', ...ownerLabels('observed/never-ran/x/1') },
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `observed-${randomUUID()}`,
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
      activities: {
        ...createPlanActivities({
          pipelines: createPipelineRegistry([pipeline]),
          // The training activities are stubbed: a train kind that takes this test's short spec.
          kinds: [looseKind('train', undefined, { by: 'child-workflow', workflow: 'trainOnVm' })],
        }),
        ...stepActivities,
        ...training,
        ...createReaperActivities({ provider, client: async () => env.client }),
        ...createVmActivities(provider),
        notify: async () => ({ channels: [] }),
      },
      interceptors: { activity: [stepAttributes] },
    });
    const workflowId = `observed/${randomUUID()}`;
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'observed', cutoff: '2026-10-01' }],
        workflowId,
        taskQueue: worker.options.taskQueue,
      });
      // While the training runs: the API reads Temporal at each scrape.
      const training = `${workflowId}/gpu.train/1`;
      const live = await eventually(
        async () => await (await scrapeApi()).text(),
        (text) =>
          text.includes(
            `retrainer_training_loss{training="${training}",run="${workflowId}",step="gpu.train"} 0.25`,
          ) && /retrainer_runs\{state="running"\} [1-9]/.test(text),
        'showed the live training',
      );
      expect(live).toContain(
        `retrainer_training_step{training="${training}",run="${workflowId}",step="gpu.train"} 7`,
      );
      expect(live).toMatch(/retrainer_runs\{state="succeeded"\} \d+/);
      expect(live).toContain('retrainer_api_temporal_up 1');
      expect((await scrapeApi('wrong')).status).toBe(401);
      release();
      await handle.result();
      expect(
        await env.client.workflow.execute(reapVms, {
          args: [{ dryRun: true }],
          workflowId: `reaper-${randomUUID()}`,
          taskQueue: worker.options.taskQueue,
        }),
      ).toMatchObject({ dryRun: true, deleted: [] });
    });

    // The worker's runtime serves Temporal's own series and Retrainer's, emitted by the workflows.
    const text = await eventually(
      async () => await (await fetch(metricsUrl)).text(),
      (body) => body.includes('retrainer_reaper_actions'),
      'showed the reaper',
    );
    expect(text).toMatch(/retrainer_step_duration_seconds_count\{[^}]*step="gpu.train"[^}]*\} 1/);
    expect(text).toMatch(/retrainer_step_duration_seconds_bucket\{[^}]*le="86400"\} 1/);
    expect(text).toMatch(/retrainer_vm_hours_sum\{[^}]*machine_type="n1-standard-8"[^}]*\} \d/);
    expect(text).toMatch(/retrainer_vm_cost_usd_sum\{[^}]*step="gpu_train"[^}]*\} \d/);
    expect(text).toMatch(/retrainer_reaper_actions_total\{[^}]*action="delete"[^}]*dry_run="true"[^}]*\} 1/);
    expect(text).toMatch(/workflow_completed_total/);
    // A dry run changed nothing.
    expect((await provider.list()).map((vm) => vm.name)).toEqual(['orphan']);
  });

  it('writes JSON lines at the configured level, with run and step ids', async () => {
    // Worker at info: the SDK's debug lines are filtered out, its info lines carry run and step.
    expect(workerLogs.lines.length).toBeGreaterThan(0);
    expect(workerLogs.lines.every((line) => (line.level as number) >= 30)).toBe(true);
    const prepared = workerLogs.lines.find((line) => line.msg === 'preparing the training');
    expect(prepared).toMatchObject({
      service: 'worker',
      level: 30,
      step: 'gpu.train',
      run: expect.stringMatching(/^observed\//),
    });
    const launched = workerLogs.lines.find((line) => line.msg === 'training launched');
    expect(launched).toMatchObject({ run: prepared?.run, step: 'gpu.train', workflowType: 'trainOnVm' });
    expect(
      workerLogs.lines.some((line) => line.sdkComponent === 'workflow' && typeof line.time === 'string'),
    ).toBe(true);

    // API at warn: a 200 writes nothing, a 404 on a run writes a warn line naming it, never a token.
    const before = apiLogs.lines.length;
    await fetch(`${api}/pipelines`, { headers: { Authorization: 'Bearer metrics-token' } });
    await fetch(`${api}/runs/${encodeURIComponent('observed/nope')}`, {
      headers: { Authorization: 'Bearer metrics-token' },
    });
    const lines = await eventually(
      async () => apiLogs.lines.slice(before),
      (found) => found.length > 0,
      'logged the 404',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, service: 'api', run: 'observed/nope' });
    expect(JSON.stringify(apiLogs.lines)).not.toContain('metrics-token');
    expect(apiLogs.lines.every((line) => (line.level as number) >= 40)).toBe(true);
  });
});

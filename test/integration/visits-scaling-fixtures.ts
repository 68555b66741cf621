import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { createBigQueryActivities } from '../../activities/bigquery';
import { LocalVmProvider } from '../../activities/providers/local';
import { createRegistryActivities } from '../../activities/registry';
import { projectRoot } from '../../activities/providers/paths';
import {
  prepareVisitsScalingWarehouse,
  type LocalWarehouse,
} from '../../pipelines/visits-scaling/synthetic/warehouse';
import type { SyntheticOptions } from '../../pipelines/visits-scaling/synthetic/generate';
import { createActivities, workflowsPath } from '../../workers/worker';
import {
  approveSignal,
  statusQuery,
  type RunPipelineInput,
  type RunStatus,
} from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import type { BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';
import { waitFor } from './fixtures/training';

/** Everything a visits-scaling suite shares: the warehouse, the folders, one workflow bundle. */
export interface VisitsScalingStack {
  dir: string;
  registryDir: string;
  provider: LocalVmProvider;
  warehouse: LocalWarehouse;
  bundle: WorkflowBundleWithSourceMap;
  /** Parameters that make a run take seconds: short trainings, fast polls, models at a fixed commit. */
  params: RunPipelineInput['params'];
}

/**
 * A small synthetic warehouse on the suite's emulator, a registry, VMs and work files under a temp
 * folder (through the same environment variables the worker reads), and the workflow bundle.
 */
export async function createVisitsScalingStack(
  bq: BigQueryHarness,
  synthetic: Partial<SyntheticOptions> = {},
): Promise<VisitsScalingStack> {
  const dir = testTempDir('visits-scaling');
  const registryDir = join(dir, 'registry');
  Object.assign(process.env, { DATA_DIR: dir, REGISTRY_DIR: registryDir, LOCAL_VM_ROOT: join(dir, 'vms') });
  const [warehouse, bundle] = await Promise.all([
    prepareVisitsScalingWarehouse({
      bigquery: bq.bigquery,
      config: bq.config,
      registryDir,
      dir,
      synthetic: {
        seed: 5,
        metAreas: [0, 11, 22, 5],
        poisPerArea: 3,
        days: 120,
        panelFraction: 0.5,
        ...synthetic,
      },
    }),
    bundleWorkflowCode({ workflowsPath: workflowsPath() }),
  ]);
  // Pinned once: other commits landing while the suite runs must not change the training steps' keys.
  const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  return {
    dir,
    registryDir,
    provider: new LocalVmProvider({
      root: join(dir, 'vms'),
      imagesDir: resolve(projectRoot, 'machine-images'),
    }),
    warehouse,
    bundle,
    params: {
      train_seconds: 60,
      train_steps: 40,
      monitor_poll_interval: '300 milliseconds',
      models_repo: projectRoot,
      models_ref: commit,
    },
  };
}

/** A visits-scaling suite's local stack (visits-scaling-suite.ts fills it in before the tests). */
export interface VisitsScalingSuite {
  env: TestWorkflowEnvironment;
  bq: BigQueryHarness;
  stack: VisitsScalingStack;
  /** The warehouse activities on the suite's emulator, for the tests' own queries. */
  warehouse: ReturnType<typeof createBigQueryActivities>;
}

/** A worker with every activity the production worker serves (workers/worker.ts), on its own queue. */
export async function createVisitsScalingWorker({
  env,
  bq,
  stack,
}: Pick<VisitsScalingSuite, 'env' | 'bq' | 'stack'>): Promise<Worker> {
  return await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `visits-scaling-${randomUUID()}`,
    workflowBundle: stack.bundle,
    activities: createActivities({ bigquery: bq.bigquery }),
  });
}

/** Starts a run of the pipeline on the worker's queue. */
export async function startRun(
  env: TestWorkflowEnvironment,
  worker: Worker,
  input: Omit<RunPipelineInput, 'pipeline'>,
) {
  return await env.client.workflow.start(runPipeline, {
    args: [{ pipeline: 'visits-scaling', ...input }],
    workflowId: `visits-scaling/test-${randomUUID().slice(0, 8)}`,
    taskQueue: worker.options.taskQueue,
  });
}

/** trainOnVm children the run started: each one is a training launched on a VM. */
export async function trainingsStarted(env: TestWorkflowEnvironment, workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const started = event.startChildWorkflowExecutionInitiatedEventAttributes;
    return started?.workflowType?.name === 'trainOnVm' ? [started.workflowId ?? ''] : [];
  });
}

export const stepOf = (status: RunStatus, id: string) => {
  const step = status.steps.find((s) => s.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step;
};

/** Waits until a step of a running run is in the given state. */
export async function waitForStep(
  env: TestWorkflowEnvironment,
  workflowId: string,
  step: string,
  state: string,
): Promise<RunStatus> {
  return await waitFor(
    `${step} ${state} in ${workflowId}`,
    async () => {
      const status = await env.client.workflow.getHandle(workflowId).query(statusQuery);
      return stepOf(status, step).state === state ? status : undefined;
    },
    120_000,
  );
}

/** The `production` version of each model. */
export async function productionVersions(registryDir: string): Promise<Record<string, string | undefined>> {
  const registry = createRegistryActivities(registryDir);
  const models = ['visits_share', 'quality', 'trend', 'real_visits'];
  const versions = await Promise.all(models.map((model) => registry.getModelAlias({ model })));
  return Object.fromEntries(models.map((model, i) => [model, versions[i]?.version]));
}

/**
 * Runs to the end on a fresh worker. When the run waits for approval of `promote`, `beforeApproval`
 * sees the waiting status, then the step is approved.
 */
export async function runToEnd(
  { env, bq, stack }: Pick<VisitsScalingSuite, 'env' | 'bq' | 'stack'>,
  input: Omit<RunPipelineInput, 'pipeline' | 'cutoff'>,
  beforeApproval: (waiting: RunStatus) => Promise<void>,
) {
  const worker = await createVisitsScalingWorker({ env, bq, stack });
  return await worker.runUntil(async () => {
    const handle = await startRun(env, worker, {
      ...input,
      cutoff: stack.warehouse.cutoff,
      params: { ...stack.params, ...input.params },
    });
    if (input.params?.require_approval === true) {
      await beforeApproval(await waitForStep(env, handle.workflowId, 'promote', 'awaiting-decision'));
      await handle.signal(approveSignal, { step: 'promote' });
    }
    const result = await handle.result();
    return { workflowId: handle.workflowId, result, status: await handle.query(statusQuery) };
  });
}

import type { BigQuery } from '@google-cloud/bigquery';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createReaperActivities } from '../activities/reaper';
import { createStackCheckActivities } from '../activities/stack-check';
import { createNotifyActivities, type NotifyConfig } from '../activities/notify';
import { createPlanActivities } from '../activities/plan';
import { createJoinRunActivities } from '../activities/join-run';
import { createVmProvider } from '../activities/providers';
import { createVmActivities } from '../activities/vm';
import { createTrainingActivities } from '../activities/training';
import { createLeaseActivities } from '../activities/lease';
import { createStepActivities } from '../activities/steps';
import { createBigQueryActivities } from '../activities/bigquery';
import { createRegistryActivities, modelRegistryLocation, registryRoot } from '../activities/registry';
import { bindKinds, createTrainingStepActivities, kindDepsFor, type AnyStepKind } from '../activities/kinds';
import type { VmProvider } from '../activities/providers/types';
import { pipelines as catalog, dailyRunTriggers, type PipelineRegistry } from '../pipelines';
import { stepKinds } from './kinds';
import type { SshTarget } from '../activities/remote/ssh';
import { ConfigError, loadConfig, type Config } from '../config';
import { temporalTls } from '../config/temporal-tls';
import { runPolicyFromConfig } from '../activities/run-policy';
import { stepAttributes } from './telemetry';

export interface WorkerDeps {
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TASK_QUEUE'> &
    Partial<Pick<Config, 'TEMPORAL_TASK_QUEUE_TRAINING' | 'WORKER_ROLE'>> &
    Partial<Parameters<typeof temporalTls>[0]>;
  bigquery: BigQuery;
  /** The VM used by `stackCheck`'s SSH round trip (the demo's local VM). */
  vm?: () => SshTarget;
  connection?: NativeConnection;
  /** Notification channels of pipeline runs (webhook, SMTP); log only when omitted. */
  notify?: NotifyConfig;
  /** The worker's whole configuration, parsed once (read from the environment when omitted). */
  full?: Config;
}

/**
 * Every activity the worker serves, from one config and clients built once: the VM provider is shared
 * by the VM activities, the reaper and the trainings; the step kinds are bound once.
 */
export function createActivities(
  deps: Pick<WorkerDeps, 'bigquery' | 'vm' | 'notify'> & {
    temporal?: TemporalClientConfig;
    /** The configuration; read from the environment when omitted. */
    config?: Config;
    /** Tests: other pipelines and kinds than the catalog and workers/kinds.ts. */
    pipelines?: PipelineRegistry;
    kinds?: AnyStepKind[];
  },
) {
  const config = deps.config ?? loadConfig();
  // The warehouse settings, in the project the client is bound to (tests point it at their own emulator).
  const warehouse = { ...config, BIGQUERY_PROJECT: deps.bigquery.projectId };
  const kindDeps = kindDepsFor(deps.bigquery, config);
  const kinds = deps.kinds ?? stepKinds;
  const provider = createVmProvider(config);
  return {
    ...createStackCheckActivities({ bigquery: deps.bigquery, vm: deps.vm }),
    ...createPlanActivities({
      pipelines: deps.pipelines ?? catalog,
      kinds,
      policy: runPolicyFromConfig(config),
    }),
    // Schedules of daily pipelines join (or start) the day's run by signal-with-start.
    ...createJoinRunActivities(dailyRunTriggers),
    // executeStep / outputsExist over the one kind list (workers/kinds.ts), handlers bound once.
    ...createStepActivities(bindKinds(kinds, kindDeps)),
    // Training steps around the trainOnVm child: export the data, file the model under the step's output.
    ...createTrainingStepActivities(kindDeps),
    ...createNotifyActivities(deps.notify ?? config), // defaults: log only
    // Warehouse (BigQuery or the emulator) and the model registry (REGISTRY_URL gs://…, else
    // REGISTRY_DIR or <DATA_DIR>/registry).
    ...createBigQueryActivities(deps.bigquery, warehouse),
    ...createRegistryActivities(modelRegistryLocation(config), { apiEndpoint: config.GCS_API_ENDPOINT }),
    // VM lifecycle (provision, status, stop, delete, list) on the provider chosen by VM_PROVIDER.
    ...createVmActivities(provider),
    // The VM reaper's look-up (reapVms): labelled VMs and whether their owner workflows are open.
    ...createReaperActivities({ provider, client: lazyClient(deps.temporal ?? config) }),
    // Training on a VM (trainOnVm): upload, launch in tmux, monitor, judge, collect into <registry>/training/.
    ...createOnVmTrainingActivities(config, provider),
    // One training at a time on a persistent instance, across runs (the instanceLease workflow, on
    // this worker's queue, where trainOnVm runs).
    ...createLeaseActivities(),
  };
}

type TemporalClientConfig = Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> &
  Partial<Parameters<typeof temporalTls>[0]>;

/** A Temporal client for activities that ask the server about workflows, connected on first use. */
function lazyClient(config: TemporalClientConfig): () => Promise<Client> {
  let client: Promise<Client> | undefined;
  return () => {
    client ??= Connection.connect({ address: config.TEMPORAL_ADDRESS, tls: temporalTls(config) }).then(
      (connection) => new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    );
    client.catch(() => (client = undefined)).catch(() => undefined);
    return client;
  };
}

/** The activities of `trainOnVm`, also all that a worker of TEMPORAL_TASK_QUEUE_TRAINING serves. */
function createOnVmTrainingActivities(config: Config, provider: VmProvider = createVmProvider(config)) {
  return createTrainingActivities({ provider, registryDir: `${registryRoot(config)}/training` });
}

/** The workflows entry (`workflows/index.ts`, or `.js` when compiled). */
export const workflowsPath = (): string => {
  const base = resolve(__dirname, '..', 'workflows', 'index');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
};

/**
 * Workflow code source: a prebuilt bundle in production (`WORKFLOW_BUNDLE`, made by
 * `scripts/build-workflow-bundle.ts`), the TypeScript sources in development.
 */
export function workflowSource(): Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> {
  const bundle = process.env.WORKFLOW_BUNDLE;
  if (bundle) {
    const codePath = resolve(bundle);
    if (!existsSync(codePath)) throw new Error(`WORKFLOW_BUNDLE ${codePath} does not exist`);
    return { workflowBundle: { codePath } };
  }
  return { workflowsPath: workflowsPath() };
}

/**
 * The workers of one process, by `WORKER_ROLE`: the pipeline worker (workflows and every activity on
 * TEMPORAL_TASK_QUEUE) and, when TEMPORAL_TASK_QUEUE_TRAINING is set, a worker of the trainings'
 * monitors on it. Each has its own slots and pollers; run them in separate processes (roles
 * `pipeline` and `training`) so a busy SQL step never delays a heartbeat.
 */
export async function createWorkers(
  deps: WorkerDeps,
): Promise<{ workers: { queue: string; worker: Worker }[]; connection: NativeConnection }> {
  const role = deps.config.WORKER_ROLE ?? 'all';
  const trainingQueue = deps.config.TEMPORAL_TASK_QUEUE_TRAINING ?? '';
  if (role === 'training' && !trainingQueue) {
    throw new ConfigError('WORKER_ROLE=training needs TEMPORAL_TASK_QUEUE_TRAINING');
  }
  const connection =
    deps.connection ??
    (await NativeConnection.connect({
      address: deps.config.TEMPORAL_ADDRESS,
      tls: temporalTls(deps.config),
    }));
  const workers: { queue: string; worker: Worker }[] = [];
  try {
    if (role !== 'training') {
      const { worker } = await createWorker({ ...deps, connection });
      workers.push({ queue: deps.config.TEMPORAL_TASK_QUEUE, worker });
    }
    if (role !== 'pipeline' && trainingQueue && trainingQueue !== deps.config.TEMPORAL_TASK_QUEUE) {
      const worker = await Worker.create({
        connection,
        namespace: deps.config.TEMPORAL_NAMESPACE,
        taskQueue: trainingQueue,
        activities: createOnVmTrainingActivities(deps.full ?? loadConfig()),
        interceptors: { activity: [stepAttributes] },
      });
      workers.push({ queue: trainingQueue, worker });
    }
  } catch (error) {
    if (!deps.connection) await connection.close();
    throw error;
  }
  return { workers, connection };
}

/** Creates the Retrainer worker on the configured task queue. */
export async function createWorker(
  deps: WorkerDeps,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection =
    deps.connection ??
    (await NativeConnection.connect({
      address: deps.config.TEMPORAL_ADDRESS,
      tls: temporalTls(deps.config),
    }));
  const worker = await Worker.create({
    connection,
    namespace: deps.config.TEMPORAL_NAMESPACE,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    ...workflowSource(),
    activities: createActivities({
      bigquery: deps.bigquery,
      vm: deps.vm,
      notify: deps.notify,
      temporal: deps.config,
      ...(deps.full ? { config: deps.full } : {}),
    }),
    interceptors: { activity: [stepAttributes] },
  });
  return { worker, connection };
}

import type { BigQuery } from '@google-cloud/bigquery';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createStackCheckActivities } from '../activities/stack-check';
import { createNotifyActivities, type NotifyConfig } from '../activities/notify';
import { createPlanActivities } from '../activities/plan';
import { createVmProvider } from '../activities/providers';
import { createVmActivities } from '../activities/vm';
import { createTrainingActivities } from '../activities/training';
import { createStepActivities } from '../activities/steps';
import { createBigQueryActivities } from '../activities/bigquery';
import { createRegistryActivities, registryRoot } from '../activities/registry';
import { bindKinds, createTrainingStepActivities, kindDepsFor, type AnyStepKind } from '../activities/kinds';
import { pipelines } from '../pipelines/catalog';
import { stepKinds } from './kinds';
import type { SshTarget } from '../activities/remote/ssh';
import { loadConfig, type Config } from '../config';

export interface WorkerDeps {
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TASK_QUEUE'>;
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
 * Every activity the worker serves, from one config and clients built once (the VM provider is
 * shared by the VM activities and the trainings).
 */
export function createActivities(
  deps: Pick<WorkerDeps, 'bigquery' | 'vm' | 'notify'> & { config?: Config; kinds?: AnyStepKind[] },
) {
  const config = deps.config ?? loadConfig();
  // The warehouse settings, in the project the client is bound to (tests point it at their own emulator).
  const warehouse = { ...config, BIGQUERY_PROJECT: deps.bigquery.projectId };
  const kindDeps = kindDepsFor(deps.bigquery, config);
  const kinds = deps.kinds ?? stepKinds;
  const provider = createVmProvider(config);
  const registry = registryRoot(config);
  return {
    ...createStackCheckActivities({ bigquery: deps.bigquery, vm: deps.vm }),
    ...createPlanActivities({ pipelines, kinds }),
    // executeStep / outputsExist over the one kind list (workers/kinds.ts), handlers bound once.
    ...createStepActivities(bindKinds(kinds, kindDeps)),
    // Training steps around the trainOnVm child: export the data, file the model under the step's output.
    ...createTrainingStepActivities(kindDeps),
    ...createNotifyActivities(deps.notify ?? config), // defaults: log only
    // Warehouse (BigQuery or the emulator) and the model registry (REGISTRY_DIR or <DATA_DIR>/registry).
    ...createBigQueryActivities(deps.bigquery, warehouse),
    ...createRegistryActivities(registry),
    // VM lifecycle (provision, status, stop, delete, list) on the provider chosen by VM_PROVIDER.
    ...createVmActivities(provider),
    // Training on a VM (trainOnVm): upload, launch in tmux, monitor, judge, collect into <registry>/training/.
    ...createTrainingActivities({ provider, registryDir: `${registry}/training` }),
  };
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

/** Creates the Retrainer worker on the configured task queue. */
export async function createWorker(
  deps: WorkerDeps,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection =
    deps.connection ?? (await NativeConnection.connect({ address: deps.config.TEMPORAL_ADDRESS }));
  const worker = await Worker.create({
    connection,
    namespace: deps.config.TEMPORAL_NAMESPACE,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    ...workflowSource(),
    activities: createActivities({
      bigquery: deps.bigquery,
      vm: deps.vm,
      notify: deps.notify,
      ...(deps.full ? { config: deps.full } : {}),
    }),
  });
  return { worker, connection };
}

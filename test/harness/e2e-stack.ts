import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { afterAll, beforeAll, expect } from 'vitest';
import { createApp } from '../../api/app';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { loadConfig, type Config } from '../../config';
import { startBigQueryHarness, type BigQueryHarness } from './bigquery';
import { testTempDir } from './paths';
import { createDevServerEnv } from './temporal';

/** The admin token of the e2e suites' API (`API_TOKENS`). */
export const E2E_AUTH = { Authorization: 'Bearer e2e-token' };

/** The local stack of an e2e suite: dev server, BigQuery emulator, a data folder for VMs and the registry. */
export interface E2eStack {
  env: TestWorkflowEnvironment;
  bq: BigQueryHarness;
  /** The worker's and API's config, as production reads it from the environment. */
  config: Config;
  dir: string;
}

/**
 * Registers the suite's beforeAll/afterAll: starts a dev server and an emulator, points the worker's
 * VM and registry settings at a fresh data folder (through the environment, as in production), and
 * at the end stops the local VMs left running and both servers. Fields are filled in by beforeAll.
 */
export function useE2eStack(name: string): E2eStack {
  const stack = { dir: testTempDir(`${name}-e2e`) } as E2eStack;
  beforeAll(async () => {
    [stack.env, stack.bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    Object.assign(process.env, {
      DATA_DIR: stack.dir,
      REGISTRY_DIR: '',
      LOCAL_VM_ROOT: '',
      VM_PROVIDER: 'local',
    });
    stack.config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: stack.env.address,
      TEMPORAL_TASK_QUEUE: `${name}-${randomUUID()}`,
      BIGQUERY_PROJECT: stack.bq.emulator.projectId,
      BIGQUERY_API_ENDPOINT: stack.bq.emulator.apiEndpoint,
      API_TOKENS: 'e2e:admin:e2e-token',
    });
  });
  afterAll(async () => {
    const provider = new LocalVmProvider({
      root: join(stack.dir, 'vms'),
      imagesDir: join(projectRoot, 'machine-images'),
    });
    for (const vm of await provider.list()) await provider.stop(vm.name);
    await Promise.all([stack.env?.teardown(), stack.bq?.stop()]);
  });
  return stack;
}

/**
 * Through the HTTP API: `GET /pipelines` lists `pipeline`, and `POST /runs` answers 400 naming the
 * parameter for each bad set of parameters.
 */
export async function expectListedAndBadParamsRejected(
  config: Config,
  pipeline: string,
  cases: readonly (readonly [Record<string, unknown>, string])[],
): Promise<void> {
  const app = await createApp(config);
  await app.init();
  try {
    const http = app.getHttpServer() as App;
    const listed = await request(http).get('/pipelines').set(E2E_AUTH).expect(200);
    expect(JSON.stringify(listed.body)).toContain(pipeline);
    for (const [params, field] of cases) {
      const response = await request(http).post('/runs').set(E2E_AUTH).send({ pipeline, params }).expect(400);
      // Named by the API's schema (`params.<field>: …`) or by the worker's plan (`parameter <field> …`).
      expect(JSON.stringify(response.body)).toMatch(new RegExp(`(parameter |params\\.)${field}\\b`));
    }
  } finally {
    await app.close();
  }
}

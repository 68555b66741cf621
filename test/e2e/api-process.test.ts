import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';
import {
  freePort,
  startProcess,
  waitUntilReady,
  type ManagedProcess,
} from '../../activities/providers/process';
import { testLogFile } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

/**
 * `npm run api` as its own process, started the way package.json starts it. Guards the runner: a
 * TypeScript runner without decorator metadata starts Nest but silently skips DTO validation.
 */
describe('the API as a separate process (npm run api)', () => {
  let env: TestWorkflowEnvironment;
  let api: ManagedProcess;
  let base: string;
  beforeAll(async () => {
    env = await createDevServerEnv();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startProcess({
      name: 'API',
      command: process.execPath,
      args: ['-r', '@swc-node/register', join(projectRoot, 'api', 'main.ts')],
      cwd: projectRoot,
      logFile: testLogFile(`api-${port}.log`),
      env: { TEMPORAL_ADDRESS: env.address, API_PORT: String(port), API_TOKENS: 'proc:admin:process-token' },
    });
    await waitUntilReady(api, `API on ${base}`, async () => (await fetch(`${base}/health`)).ok, 60_000);
  });
  afterAll(async () => {
    await api?.stop();
    await env?.teardown();
  });

  it('serves health, enforces the token and validates bodies', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'up' });
    expect((await fetch(`${base}/pipelines`)).status).toBe(401);
    const response = await fetch(`${base}/runs`, {
      method: 'POST',
      headers: { Authorization: 'Bearer process-token', 'Content-Type': 'application/json' },
      body: JSON.stringify({ pipeline: 'visits-scaling', cutoff: 'yesterday', color: 'red' }),
    });
    expect(response.status).toBe(400);
    const message = JSON.stringify(((await response.json()) as { message: unknown }).message);
    expect(message).toMatch(/cutoff must be a date YYYY-MM-DD/);
    expect(message).toMatch(/property color should not exist/);
  });
});

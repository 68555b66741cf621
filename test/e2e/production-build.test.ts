import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';
import {
  freePort,
  startProcess,
  waitUntilReady,
  type ManagedProcess,
} from '../../activities/providers/process';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testLogFile, testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

const run = promisify(execFile);

/**
 * The production path of docker-compose.yml without Docker: `scripts/build.sh` (what the Dockerfile
 * runs), then the compiled worker (on the prebuilt workflow bundle) and API as two processes, and a
 * run started through the API that the compiled worker completes.
 */
describe('the production build: compiled worker and API processes', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  let worker: ManagedProcess;
  let api: ManagedProcess;
  let base: string;
  const out = testTempDir('dist');

  beforeAll(async () => {
    [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    await run('bash', [join(projectRoot, 'scripts', 'build.sh'), out], { cwd: projectRoot });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: `prod-${randomUUID()}`,
      BIGQUERY_PROJECT: bq.emulator.projectId,
      BIGQUERY_API_ENDPOINT: bq.emulator.apiEndpoint,
      DATA_DIR: testTempDir('prod-data'),
      API_PORT: String(port),
      API_TOKENS: 'prod:admin:prod-token',
      WORKFLOW_BUNDLE: join(out, 'workflow-bundle.js'),
    };
    worker = startProcess({
      name: 'worker',
      command: process.execPath,
      args: [join(out, 'workers', 'main.js')],
      logFile: testLogFile(`prod-worker-${port}.log`),
      env: config,
    });
    api = startProcess({
      name: 'API',
      command: process.execPath,
      args: [join(out, 'api', 'main.js')],
      logFile: testLogFile(`prod-api-${port}.log`),
      env: config,
    });
    await waitUntilReady(
      api,
      `compiled API on ${base}`,
      async () => (await fetch(`${base}/health`)).ok,
      60_000,
    );
  }, 240_000);
  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop()]);
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  it('ships the files read at run time beside the compiled code', () => {
    for (const file of [
      'workflow-bundle.js',
      'pipelines/visits-scaling/sql/quality_labels.sql',
      'models/quality/train.py',
      'machine-images',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
  });

  it('runs a pipeline started through the compiled API on the compiled worker', async () => {
    const headers = { Authorization: 'Bearer prod-token', 'Content-Type': 'application/json' };
    const started = await fetch(`${base}/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ pipeline: 'demo', runKey: 'prod-build', cutoff: '2026-09-30' }),
    });
    expect(started.status).toBe(201);
    const { workflowId } = (await started.json()) as { workflowId: string };
    const result = await env.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ pipeline: 'demo', state: 'succeeded', cutoff: '2026-09-30' });
    const shown = (await (
      await fetch(`${base}/runs/${encodeURIComponent(workflowId)}`, { headers })
    ).json()) as {
      run: { state: string; steps: { state: string }[] };
    };
    expect(shown.run.state).toBe('succeeded');
    expect(shown.run.steps.every((step) => step.state === 'succeeded')).toBe(true);
  });
});

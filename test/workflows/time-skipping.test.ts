import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleepForDays } from './fixtures/sleeper';
import { createTimeSkippingEnv } from '../harness/temporal';

describe('time-skipping test server (temporal-test-server from PyPI)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('completes a workflow that sleeps 30 days at once', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `ts-${randomUUID()}`,
      workflowsPath: join(__dirname, 'fixtures', 'sleeper.ts'),
    });
    const wallStart = Date.now();
    const result = await worker.runUntil(
      env.client.workflow.execute(sleepForDays, {
        args: [30],
        workflowId: `sleep-${randomUUID()}`,
        taskQueue: worker.options.taskQueue,
      }),
    );
    const wallMs = Date.now() - wallStart;
    expect(result.sleptMs).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    // 30 days of workflow time passed in well under a minute of wall time: time was skipped.
    expect(wallMs).toBeLessThan(60_000);
    expect(env.supportsTimeSkipping).toBe(true);
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/definitions';
import { createDevServerEnv } from '../harness/temporal';
import { backfillQuarterStart, createQuarterlySchedule } from './fixtures/schedule';
import { createOperatorWorker } from './runner-fixtures';
import { startWebhookReceiver, type WebhookReceiver } from './runner-receivers';

describe('runPipeline started by a Temporal Schedule', () => {
  let env: TestWorkflowEnvironment;
  let webhook: WebhookReceiver;
  beforeAll(async () => {
    [env, webhook] = await Promise.all([createDevServerEnv(), startWebhookReceiver()]);
  });
  afterAll(async () => {
    await Promise.all([env?.teardown(), webhook?.close()]);
  });

  it('takes its cutoff from the nominal time of a backfilled quarter, not from its start', async () => {
    const worker = await createOperatorWorker(env, webhook.url);
    const scheduleId = `operator-demo-quarterly-${randomUUID()}`;
    const schedule = await createQuarterlySchedule(
      env.client,
      scheduleId,
      { pipeline: 'operator-demo' },
      worker.options.taskQueue,
    );
    try {
      const status = await worker.runUntil(async () => {
        await backfillQuarterStart(schedule, '2026-07-01');
        // The run stops at its failing branch and says so; that names the scheduled workflow.
        const waiting = await webhook.waitFor(
          (body) =>
            String(body.workflowId).startsWith(`operator-demo/${scheduleId}`) &&
            body.event === 'awaiting-decision',
        );
        const handle = env.client.workflow.getHandle(String(waiting.workflowId));
        const status = await handle.query(statusQuery);
        await handle.terminate('test done');
        return status;
      });
      expect(status.plan).toMatchObject({ cutoff: '2026-07-01', cutoffSource: 'schedule' });
      expect(status.plan?.createdAt.slice(0, 10)).not.toBe('2026-07-01');
    } finally {
      await schedule.delete();
    }
  });
});

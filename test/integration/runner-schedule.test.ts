import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/definitions';
import { backfillQuarterStart, createQuarterlySchedule } from './fixtures/schedule';
import { useRunnerSuite } from './fixtures/runner-suite';
import { createOperatorWorker } from './runner-fixtures';

describe('runPipeline started by a Temporal Schedule', () => {
  const suite = useRunnerSuite();

  it('takes its cutoff from the nominal time of a backfilled quarter, not from its start', async () => {
    const worker = await createOperatorWorker(suite.env, suite.webhook.url);
    const scheduleId = `operator-demo-quarterly-${randomUUID()}`;
    const schedule = await createQuarterlySchedule(
      suite.env.client,
      scheduleId,
      { pipeline: 'operator-demo' },
      worker.options.taskQueue,
    );
    try {
      const status = await worker.runUntil(async () => {
        await backfillQuarterStart(schedule, '2026-07-01');
        // The run stops at its failing branch and says so; that names the scheduled workflow.
        const waiting = await suite.webhook.waitFor(
          (body) =>
            String(body.workflowId).startsWith(`operator-demo/${scheduleId}`) &&
            body.event === 'awaiting-decision',
        );
        const handle = suite.env.client.workflow.getHandle(String(waiting.workflowId));
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

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CURRENT_STEP, PIPELINE, RUN_STATE } from '../../config/search-attributes';
import {
  approveSignal,
  RUN_SUMMARY_MEMO,
  runWorkflowId,
  statusQuery,
  type RunSummary,
} from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { useRunnerSuite } from './fixtures/runner-suite';
import { createOperatorWorker, signalWithCli } from './runner-fixtures';

describe('runPipeline on the dev server, driven by the temporal CLI', () => {
  const suite = useRunnerSuite();

  const waiting = (workflowId: string, step: string) =>
    suite.webhook.waitFor(
      (body) =>
        body.workflowId === workflowId &&
        body.event === 'awaiting-decision' &&
        (body.steps as string[]).includes(step),
    );

  it('continues after `temporal workflow signal --name markSucceeded`, then reuses the run', async () => {
    const worker = await createOperatorWorker(suite.env, suite.webhook.url);
    const workflowId = runWorkflowId('operator-demo', `cli-${randomUUID()}`);
    const handle = await suite.env.client.workflow.start(runPipeline, {
      args: [{ pipeline: 'operator-demo', cutoff: '2026-09-30' }],
      workflowId,
      taskQueue: worker.options.taskQueue,
    });
    const { result, status, description, reused } = await worker.runUntil(async () => {
      await waiting(workflowId, 'right.train');
      const whileWaiting = await handle.describe();
      expect(whileWaiting.typedSearchAttributes.get(RUN_STATE)).toBe('waiting');
      expect(whileWaiting.typedSearchAttributes.get(CURRENT_STEP)).toBe('right.train');

      await signalWithCli(suite.env.address, workflowId, 'markSucceeded', {
        step: 'right.train',
        reason: 'checked the output by hand',
      });
      await waiting(workflowId, 'promote');
      await signalWithCli(suite.env.address, workflowId, 'approve', { step: 'promote' });
      const result = await handle.result();
      const status = await handle.query(statusQuery);
      const description = await handle.describe();

      // A later run from `evaluate` takes the other steps' outputs from this run's memo.
      const rerun = await suite.env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'operator-demo', cutoff: '2026-09-30', reuseRunId: workflowId, from: 'evaluate' }],
        workflowId: `${workflowId}-rerun`,
        taskQueue: worker.options.taskQueue,
      });
      await waiting(rerun.workflowId, 'promote');
      await rerun.signal(approveSignal, { step: 'promote' });
      const reused = await rerun.result();
      return { result, status, description, reused };
    });

    expect(result.steps['right.train']).toMatchObject({ state: 'marked-succeeded' });
    expect(
      Object.entries(result.steps)
        .filter(([, step]) => step.state !== 'succeeded')
        .map(([id]) => id),
    ).toEqual(['right.train']);
    expect(status.steps.find((step) => step.id === 'right.train')).toMatchObject({
      reason: 'checked the output by hand',
      error: expect.stringContaining('disk full'),
    });
    expect(status.operatorActions.map((action) => action.signal)).toEqual(['markSucceeded', 'approve']);
    expect(description.typedSearchAttributes.get(PIPELINE)).toBe('operator-demo');
    expect(description.typedSearchAttributes.get(RUN_STATE)).toBe('succeeded');
    expect(description.typedSearchAttributes.get(CURRENT_STEP)).toBe('');
    expect((description.memo?.[RUN_SUMMARY_MEMO] as RunSummary).steps.prepare?.outputs).toEqual(
      result.steps.prepare?.outputs,
    );
    expect(
      suite.webhook.received.filter((body) => body.workflowId === workflowId).map((body) => body.event),
    ).toEqual(['awaiting-decision', 'awaiting-decision', 'succeeded']);

    expect(Object.fromEntries(Object.entries(reused.steps).map(([id, step]) => [id, step.state]))).toEqual({
      prepare: 'reused',
      'left.train': 'reused',
      'right.train': 'reused',
      evaluate: 'succeeded',
      promote: 'succeeded',
      cleanup: 'succeeded',
    });
    expect(reused.steps.prepare?.outputs).toEqual(result.steps.prepare?.outputs);
  });
});

import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../pipelines';
import { demoPipeline } from '../../pipelines/demo/pipeline';
import { statusQuery } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createTimeSkippingEnv } from '../harness/temporal';
import { createRunnerWorker, startRun, StepScript, uniqueId, untilCancelled } from './run-pipeline-harness';

const once = { retry: { maximumAttempts: 1 } };

const tables = definePipeline('tables')
  .step('visits', { kind: 'script', outputs: ['table'], ...once })
  .step('share', { kind: 'script', after: ['visits'], outputs: ['table'], ...once })
  .step('quality', { kind: 'script', after: ['visits'], spec: { input: '{{steps.visits.table}}' }, ...once })
  .step('cleanup', { kind: 'script', after: ['share', 'quality'], cleanup: true, ...once })
  .build();

// One step at a time, so a cancellation never races a just-finished activity (see the rerun test).
const serial = definePipeline('serial')
  .step('visits', { kind: 'script', ...once })
  .step('quality', { kind: 'script', after: ['visits'], ...once })
  .step('share', { kind: 'script', after: ['quality'], ...once })
  .step('cleanup', { kind: 'script', after: ['share'], cleanup: true, ...once })
  .build();

const earlierOutputs = {
  visits: { table: 'smc_tables.visits_11111111' },
  share: { table: 'smc_tables.share_22222222' },
};

describe('runPipeline reuse, cancellation and the demo pipeline', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('reuses outputs that still exist and recreates an expired one under its old name', async () => {
    const script = new StepScript();
    script.existing.add(earlierOutputs.visits.table); // share's table has expired
    const worker = await createRunnerWorker(env, script, [tables]);
    const result = await worker.runUntil(
      env.client.workflow.execute(runPipeline, {
        args: [
          { pipeline: 'tables', reuseRunId: 'tables/q2', from: 'quality', reuseOutputs: earlierOutputs },
        ],
        workflowId: uniqueId('tables'),
        taskQueue: worker.options.taskQueue,
      }),
    );
    expect(result.steps.visits).toMatchObject({ state: 'reused', outputs: earlierOutputs.visits });
    expect(result.steps.share).toMatchObject({ state: 'succeeded', outputs: earlierOutputs.share });
    expect(result.steps.quality?.state).toBe('succeeded');
    expect(script.started('visits')).toBe(0);
    expect(script.started('share')).toBe(1);
  });

  it('treats a cancel from the Web UI like an abort: cleanup runs, the run ends cancelled', async () => {
    const script = new StepScript().behave('quality', untilCancelled);
    const { worker, handle } = await startRun(env, script, serial);
    const { error, status } = await worker.runUntil(async () => {
      await script.when('quality', 'start');
      await handle.cancel();
      const error = await handle.result().catch((e: unknown) => e);
      return { error, status: await handle.query(statusQuery) };
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(script.events.filter((e) => e.step === 'quality').map((e) => e.event)).toEqual([
      'start',
      'cancelled',
    ]);
    expect(script.started('cleanup')).toBe(1);
    expect(script.started('share')).toBe(0);
    expect(status.state).toBe('aborted');
    expect(status.abortReason).toBe('the workflow was cancelled');
  });

  it('runs the demo pipeline with the built-in echo steps', async () => {
    const script = new StepScript();
    const worker = await createRunnerWorker(env, script, [demoPipeline], { echo: true });
    const result = await worker.runUntil(
      env.client.workflow.execute(runPipeline, {
        args: [{ pipeline: 'demo', params: { region: 'us' } }],
        workflowId: uniqueId('demo'),
        taskQueue: worker.options.taskQueue,
      }),
    );
    expect(Object.values(result.steps).every((step) => step.state === 'succeeded')).toBe(true);
    expect(result.params).toEqual({ region: 'us', epochs: 3, require_approval: false });
    expect(result.steps.prepare?.outputs.table).toMatch(/^smc_demo\.prepare_[0-9a-f]{8}$/);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlanActivities } from '../../activities/plan';
import { createPipelineRegistry } from '../../pipelines';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import { stepKinds } from '../../workers/kinds';
import { RunnerErrorType } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createTimeSkippingEnv } from '../harness/temporal';
import { StepScript } from './run-pipeline-harness';

/**
 * A visits-scaling run with a bad parameter fails at its plan: the workflow fails with the plan's
 * typed failure, and its history holds no activity but `planRun` and no child workflow (so no VM).
 */
describe('runPipeline rejects a bad plan before anything is provisioned', () => {
  let env: TestWorkflowEnvironment;
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const runWith = async (params: Record<string, unknown>) => {
    const script = new StepScript();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `plan-rejects-${randomUUID()}`,
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'run-pipeline.ts'),
      activities: {
        ...createPlanActivities({
          pipelines: createPipelineRegistry([visitsScalingPipeline]),
          kinds: stepKinds,
        }),
        // Stand-ins for every other runner activity: were the plan accepted, they would be called.
        ...script.activities(),
      },
    });
    const handle = await env.client.workflow.start(runPipeline, {
      args: [{ pipeline: 'visits-scaling', cutoff: '2026-04-01', params: { models_ref: commit, ...params } }],
      workflowId: `visits-scaling/${randomUUID()}`,
      taskQueue: worker.options.taskQueue,
    });
    const error = await worker.runUntil(
      handle.result().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).flatMap((event) =>
      event.activityTaskScheduledEventAttributes
        ? [event.activityTaskScheduledEventAttributes.activityType?.name]
        : [],
    );
    // The plan heartbeats: a worker dying in it is noticed in 30 s, not after its start-to-close.
    const planTimeouts = (history.events ?? []).flatMap((event) => {
      const attributes = event.activityTaskScheduledEventAttributes;
      return attributes
        ? [
            {
              heartbeatSeconds: Number(attributes.heartbeatTimeout?.seconds ?? 0),
              startToCloseSeconds: Number(attributes.startToCloseTimeout?.seconds ?? 0),
            },
          ]
        : [];
    });
    const children = (history.events ?? []).filter(
      (event) => event.startChildWorkflowExecutionInitiatedEventAttributes,
    );
    return {
      failure: (error as WorkflowFailedError).cause?.cause as ApplicationFailure,
      scheduled,
      planTimeouts,
      children,
      script,
    };
  };

  it('fails on a bad duration parameter with InvalidParameters naming it, scheduling only planRun', async () => {
    const { failure, scheduled, planTimeouts, children, script } = await runWith({
      max_training_duration: '5 hourz',
    });
    expect(failure.type).toBe(RunnerErrorType.InvalidParameters);
    expect(failure.message).toContain('parameter max_training_duration: invalid duration "5 hourz"');
    expect(scheduled).toEqual(['planRun']);
    expect(planTimeouts).toEqual([{ heartbeatSeconds: 30, startToCloseSeconds: 300 }]);
    expect(children).toEqual([]);
    expect(script.events).toEqual([]);
  });

  it('fails on a bad step spec with InvalidStepSpec naming the step and field, scheduling only planRun', async () => {
    const { failure, scheduled, children } = await runWith({ train_retries: -1 });
    expect(failure.type).toBe(RunnerErrorType.InvalidStepSpec);
    expect(failure.message).toContain('step visits_share.train: spec.policy.maxRetries');
    expect(scheduled).toEqual(['planRun']);
    expect(children).toEqual([]);
  });
});

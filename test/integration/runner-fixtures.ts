import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createNotifyActivities } from '../../activities/notify';
import { createPlanActivities } from '../../activities/plan';
import { runPolicyFromConfig } from '../../activities/run-policy';
import { echoKind, gateKind } from '../../activities/kinds/basic';
import { createStepActivities } from '../../activities/steps';
import { loadConfig } from '../../config';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { temporalCliPath } from '../../scripts/stack/temporal';
import { workflowsPath } from '../../workers/worker';
import { approveUpdate, markSucceededUpdate, type RunPipelineResult } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { bound, looseKind } from '../harness/kinds';
import type { WebhookReceiver } from './runner-receivers';

const execFileAsync = promisify(execFile);

/**
 * A run that needs an operator twice: a branch that fails and waits (`onFailure: 'wait'`), and an
 * approval before promotion. Used by the CLI integration test and by the script that records the
 * replay history (scripts/record-runner-history.ts), so both exercise the same paths.
 */
export const operatorPipeline = definePipeline('operator-demo', {
  parameters: { region: { type: 'string', default: 'eu' } },
})
  .step('prepare', {
    kind: 'echo',
    spec: { message: 'prepare {{region}} up to {{cutoff}}' },
    outputs: ['table'],
  })
  .step('left.train', {
    kind: 'echo',
    after: ['prepare'],
    spec: { message: 'train on {{steps.prepare.table}}' },
  })
  .step('right.train', {
    kind: 'broken',
    after: ['prepare'],
    onFailure: 'wait',
    retry: { maximumAttempts: 1 },
  })
  .step('evaluate', { kind: 'echo', after: ['left.train', 'right.train'], spec: { message: 'evaluate' } })
  .step('promote', { kind: 'gate', after: ['evaluate'], approval: true })
  .step('cleanup', { kind: 'echo', after: ['promote'], cleanup: true, spec: { message: 'cleanup' } })
  .build();

/** The generic `echo` and `gate`, and `broken`, a kind that always fails. */
export const operatorKinds = [
  echoKind,
  gateKind,
  looseKind('broken', {
    run: async () => {
      throw ApplicationFailure.create({ type: 'DiskFull', message: 'disk full', nonRetryable: true });
    },
  }),
];

/** Real activities (plan, echo steps, webhook notifications) plus one kind that always fails. */
export async function createOperatorWorker(
  env: TestWorkflowEnvironment,
  webhookUrl: string,
): Promise<Worker> {
  return await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `runner-${randomUUID()}`,
    workflowsPath: workflowsPath(),
    activities: {
      ...createPlanActivities({
        pipelines: createPipelineRegistry([operatorPipeline]),
        kinds: operatorKinds,
      }),
      ...createStepActivities(bound(...operatorKinds)),
      ...createNotifyActivities(loadConfig({ NOTIFY_WEBHOOK_URL: webhookUrl })),
    },
  });
}

/** `temporal workflow signal` exactly as an operator types it. */
export async function signalWithCli(
  address: string,
  workflowId: string,
  name: string,
  input: Record<string, unknown>,
): Promise<string> {
  const { stdout } = await execFileAsync(temporalCliPath(), [
    'workflow',
    'signal',
    '--address',
    address,
    '--namespace',
    'default',
    '--workflow-id',
    workflowId,
    '--name',
    name,
    '--input',
    JSON.stringify(input),
  ]);
  return stdout;
}

/**
 * The operator run from start to end: waits for each notification, answers it (markSucceeded on the
 * failed branch, then approve) with the CLI's signals, or with Updates as the API sends them (`by:
 * 'update'`, with one rejected Update first, which leaves nothing in history), and returns the result.
 */
export async function driveOperatorRun(
  env: TestWorkflowEnvironment,
  worker: Worker,
  webhook: WebhookReceiver,
  workflowId: string,
  by: 'signal' | 'update' = 'signal',
): Promise<RunPipelineResult> {
  const waiting = (step: string) =>
    webhook.waitFor(
      (body) =>
        body.workflowId === workflowId &&
        body.event === 'awaiting-decision' &&
        (body.steps as string[]).includes(step),
    );
  const handle = await env.client.workflow.start(runPipeline, {
    args: [{ pipeline: 'operator-demo', cutoff: '2026-09-30' }],
    workflowId,
    taskQueue: worker.options.taskQueue,
  });
  return await worker.runUntil(async () => {
    await waiting('right.train');
    if (by === 'update') {
      const rejected = await handle
        .executeUpdate(approveUpdate, { args: [{ step: 'evaluate', actor: 'recorder' }] })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      if (!(rejected instanceof WorkflowUpdateFailedError)) throw new Error('approve evaluate was accepted');
      await handle.executeUpdate(markSucceededUpdate, {
        args: [{ step: 'right.train', reason: 'checked', actor: 'recorder' }],
      });
    } else {
      await signalWithCli(env.address, workflowId, 'markSucceeded', {
        step: 'right.train',
        reason: 'checked',
      });
    }
    await waiting('promote');
    if (by === 'update') {
      await handle.executeUpdate(approveUpdate, { args: [{ actor: 'recorder' }] });
    } else {
      await signalWithCli(env.address, workflowId, 'approve', { step: 'promote' });
    }
    return await handle.result();
  });
}

/**
 * A worker for pipelines built from the builtin kinds (`echo`, `gate`: the `demo` pipeline), with the
 * real plan activity and the run policy of `configEnv`, on its own task queue: what the API needs
 * behind it to plan and run.
 */
export async function createBuiltinWorker(
  env: TestWorkflowEnvironment,
  pipelines: PipelineDefinition[],
  configEnv: Record<string, string> = {},
): Promise<Worker> {
  return await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `builtin-${randomUUID()}`,
    workflowsPath: workflowsPath(),
    activities: {
      ...createPlanActivities({
        pipelines: createPipelineRegistry(pipelines),
        kinds: [echoKind, gateKind],
        policy: runPolicyFromConfig(loadConfig(configEnv)),
      }),
      ...createStepActivities(bound(echoKind, gateKind)),
      ...createNotifyActivities(loadConfig({})),
    },
  });
}

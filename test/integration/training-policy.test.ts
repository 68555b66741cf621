import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainingActivities } from '../../activities/training';
import { trainOnVm } from '../../workflows/train-on-vm';
import { TrainingErrorType, type TrainOnVmInput, type TrainOnVmResult } from '../../workflows/training-types';
import { createDevServerEnv } from '../harness/temporal';
import {
  createTrainingStack,
  launchCount,
  stopAll,
  trainOnVmPath,
  trainerInput,
  type TrainingStack,
} from './fixtures/training';

describe('trainOnVm judging a crashed training by the step policy (local stack)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TrainingStack;
  beforeAll(async () => {
    env = await createDevServerEnv();
    stack = createTrainingStack('training-policy');
  });
  afterAll(async () => {
    await stopAll(stack);
    await env?.teardown();
  });

  async function train(input: TrainOnVmInput): Promise<TrainOnVmResult> {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `policy-${randomUUID()}`,
      workflowsPath: trainOnVmPath,
      activities: createTrainingActivities({ provider: stack.provider, registryDir: stack.registryDir }),
    });
    return await worker.runUntil(
      env.client.workflow.execute(trainOnVm, {
        args: [input],
        workflowId: input.trainingId,
        taskQueue: worker.options.taskQueue,
      }),
    );
  }

  it('accepts the latest checkpoint when the crash comes after the minimum duration', async () => {
    const trainingId = `late-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '40', TRAINER_STEP_SECONDS: '0.2', TRAINER_FAIL_AT_STEP: '12' },
        policy: { acceptCheckpointAfter: '2 seconds', maxRetries: 2 },
      }),
    );
    expect(result.status).toBe('accepted-checkpoint');
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]?.outcome).toEqual({ kind: 'exited', exitCode: 3 });
    expect(result.trainingMs).toBeGreaterThanOrEqual(2000);
    // Step 12 was the last one, and checkpoints are written every 2 steps: step 11 is the latest.
    expect(result.outputs?.modelPath).toBe(
      join(stack.registryDir, trainingId, 'checkpoint', 'step-000011.json'),
    );
    expect(JSON.parse(readFileSync(result.outputs!.modelPath!, 'utf8'))).toMatchObject({ step: 11 });
    expect(launchCount(stack, trainingId)).toBe(1);
  });

  it('retries from the latest checkpoint on the same VM when the crash comes before the minimum', async () => {
    const trainingId = `early-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(stack, trainingId, {
        env: {
          TRAINER_STEPS: '14',
          TRAINER_STEP_SECONDS: '0.15',
          TRAINER_FAIL_AT_STEP: '6',
          TRAINER_FAIL_ONLY_FRESH: '1',
        },
        policy: { acceptCheckpointAfter: '1 hour', maxRetries: 1 },
      }),
    );
    expect(result.status).toBe('succeeded');
    expect(result.attempts.map((attempt) => [attempt.runId, attempt.vmName, attempt.outcome])).toEqual([
      [trainingId, `vm-${trainingId}`, { kind: 'exited', exitCode: 3 }],
      [`${trainingId}-r1`, `vm-${trainingId}`, { kind: 'exited', exitCode: 0 }],
    ]);
    expect(result.attempts[0]?.checkpoint).toBe('step-000005.json');
    expect(readFileSync(result.outputs!.logPath!, 'utf8')).toContain('step-000005.json at step 6');
    // The resumed run logged only the steps after the checkpoint.
    expect(readFileSync(result.outputs!.metricsPath!, 'utf8').trim().split('\n')).toHaveLength(8);
    expect(launchCount(stack, trainingId)).toBe(2);
  });

  it('hands the decision to an operator when retries are exhausted, with the failure type', async () => {
    const trainingId = `exhausted-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '10', TRAINER_STEP_SECONDS: '0.1', TRAINER_FAIL_AT_STEP: '2' },
        policy: { maxRetries: 0 },
      }),
    );
    expect(result.status).toBe('needs-decision');
    expect(result.reason).toBe(TrainingErrorType.TRAINING_FAILED);
    expect(result.message).toBe('training exited with code 3');
    expect(result.outputs?.checkpointPath && existsSync(result.outputs.checkpointPath)).toBe(true);
    expect((await stack.provider.status(`vm-${trainingId}`)).status).toBe('NOT_FOUND');
  });

  it('gates success on convergence: a NaN loss is CONVERGENCE_FAILED', async () => {
    const trainingId = `nan-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '6', TRAINER_STEP_SECONDS: '0.05', TRAINER_NAN_AT_STEP: '4' },
        policy: { requireConvergence: true },
      }),
    );
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.CONVERGENCE_FAILED });
    expect(result.metrics).toMatchObject({ count: 6, invalid: 1 });
  });

  it('stops a training that runs past maxDuration: killed, TIMED_OUT, with the last heartbeat progress', async () => {
    const trainingId = `timeout-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '600', TRAINER_STEP_SECONDS: '0.1' },
        maxDuration: '5 seconds',
      }),
    );
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.TIMED_OUT });
    expect(result.attempts[0]?.outcome).toEqual({ kind: 'timed-out' });
    // Progress came from the monitor's last heartbeat, carried by the timeout failure.
    expect(result.lastMetric?.step).toBeGreaterThan(5);
    expect(launchCount(stack, trainingId)).toBe(1);
    const log = readFileSync(result.outputs!.logPath!, 'utf8');
    expect(log).not.toContain('training done');
    expect(readFileSync(join(result.outputs!.dir, 'runs', trainingId, 'exit_code'), 'utf8').trim()).toBe(
      '143',
    );
  });
});

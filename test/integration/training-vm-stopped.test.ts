import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
  waitFor,
  waitForStep,
  type TrainingStack,
} from './fixtures/training';
import { readMonitorHeartbeat } from '../../activities/training/progress';

describe('trainOnVm when the instance is stopped under the training (local stack)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TrainingStack;
  beforeAll(async () => {
    env = await createDevServerEnv();
    stack = createTrainingStack('training-vm-stopped');
  });
  afterAll(async () => {
    await stopAll(stack);
    await env?.teardown();
  });

  /** Starts the training, stops its instance once a checkpoint was copied to the worker side. */
  async function trainAndStopVm(input: TrainOnVmInput): Promise<TrainOnVmResult> {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `stopped-${randomUUID()}`,
      workflowsPath: trainOnVmPath,
      activities: createTrainingActivities({ provider: stack.provider, registryDir: stack.registryDir }),
    });
    return await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: input.trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await waitForStep(env.client, input.trainingId, 4);
      await waitFor('a synced checkpoint', async () => {
        const monitor = await readMonitorHeartbeat(env.client, input.trainingId);
        return monitor?.live.syncedCheckpoint;
      });
      await stack.provider.stop(input.vm.name);
      return await handle.result();
    });
  }

  it('retries from the copied checkpoint on a fresh instance', async () => {
    const trainingId = `stop-retry-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '40', TRAINER_STEP_SECONDS: '0.2' },
      policy: { maxRetries: 1, acceptCheckpointAfter: '1 hour' },
    });
    const result = await trainAndStopVm(input);
    expect(result.status).toBe('succeeded');
    const [first, second] = result.attempts;
    expect(first?.outcome).toMatchObject({ kind: 'vm-stopped', vmStatus: 'STOPPED' });
    expect(second).toMatchObject({ vmName: `vm-${trainingId}-r1`, outcome: { kind: 'exited', exitCode: 0 } });
    // The fresh instance resumed from the checkpoint copied off the stopped one.
    expect(readFileSync(result.outputs!.logPath!, 'utf8')).toMatch(
      /resuming from .*step-\d+\.json at step \d+/,
    );
    expect(launchCount(stack, trainingId)).toBe(2);
    for (const vm of [input.vm.name, `${input.vm.name}-r1`]) {
      expect((await stack.provider.status(vm)).status).toBe('NOT_FOUND');
    }
  });

  it('returns needs-decision with VM_STOPPED when no retry is allowed, never hanging', async () => {
    const trainingId = `stop-decide-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '200', TRAINER_STEP_SECONDS: '0.2' },
      policy: { maxRetries: 0 },
    });
    const result = await trainAndStopVm(input);
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.VM_STOPPED });
    expect(result.outputs?.checkpointPath).toMatch(/step-\d+\.json$/);
    expect(launchCount(stack, trainingId)).toBe(1);
    expect((await stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
  });

  it('restarts a persistent instance (never deletes it) and resumes there from the copied checkpoint', async () => {
    const trainingId = `stop-persist-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '30', TRAINER_STEP_SECONDS: '0.2' },
      policy: { maxRetries: 1 },
    });
    input.vm.persistent = true;
    const result = await trainAndStopVm(input);
    expect(result.status).toBe('succeeded');
    expect(result.attempts.map((attempt) => [attempt.vmName, attempt.outcome.kind])).toEqual([
      [input.vm.name, 'vm-stopped'],
      [input.vm.name, 'exited'],
    ]);
    expect(readFileSync(result.outputs!.logPath!, 'utf8')).toMatch(/resuming from .*step-\d+\.json/);
    expect(launchCount(stack, trainingId)).toBe(2);
    expect((await stack.provider.status(input.vm.name)).status).toBe('STOPPED');
  });
});

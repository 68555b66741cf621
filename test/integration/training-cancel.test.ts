import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainOnVm } from '../../workflows/train-on-vm';
import type { TrainOnVmInput } from '../../workflows/training-types';
import {
  createTrainingWorker,
  groupAlive,
  launchCount,
  trainerInput,
  waitForStep,
} from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';

describe('trainOnVm cancelled mid-training (local stack)', () => {
  const suite = useTrainingSuite('training-cancel');

  /** Starts a long training, cancels it at step 3; returns the training's process-group id and the error. */
  async function cancelMidTraining(input: TrainOnVmInput): Promise<{ pgid: number; error: unknown }> {
    const worker = await createTrainingWorker(suite, `cancel-${randomUUID()}`);
    return await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: input.trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await waitForStep(suite.env.client, input.trainingId, 3);
      const runDir = join(suite.stack.provider.instanceDir(input.vm.name), 'home', 'runs', input.trainingId);
      const pgid = Number(readFileSync(join(runDir, 'pgid'), 'utf8'));
      expect(groupAlive(pgid)).toBe(true);
      await handle.cancel();
      const error = await handle.result().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      return { pgid, error };
    });
  }

  it('kills the remote process group and deletes the instance', async () => {
    const trainingId = `cancel-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
      env: { TRAINER_STEPS: '600', TRAINER_STEP_SECONDS: '0.1' },
    });
    const { pgid, error } = await cancelMidTraining(input);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(groupAlive(pgid)).toBe(false);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
    expect(launchCount(suite.stack, trainingId)).toBe(1);
  });

  it('kills the remote process group and stops (never deletes) a persistent instance', async () => {
    const trainingId = `cancel-p-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
      env: { TRAINER_STEPS: '600', TRAINER_STEP_SECONDS: '0.1' },
    });
    input.vm.persistent = true;
    const { pgid, error } = await cancelMidTraining(input);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(groupAlive(pgid)).toBe(false);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('STOPPED');
    // The kill came from us before the stop: the wrapper saw the training end and wrote its exit code
    // (143 = SIGTERM) on the persistent disk.
    const runDir = join(suite.stack.provider.instanceDir(input.vm.name), 'home', 'runs', trainingId);
    expect(existsSync(join(runDir, 'exit_code'))).toBe(true);
    expect(readFileSync(join(runDir, 'exit_code'), 'utf8').trim()).toBe('143');
  });
});

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { trainOnVm } from '../../workflows/train-on-vm';
import { TrainingErrorType, type TrainOnVmInput, type TrainOnVmResult } from '../../workflows/training-types';
import { createTrainingWorker, launchCount, trainerInput, waitFor, waitForStep } from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';
import { readMonitorHeartbeat } from '../../activities/training/progress';

describe('trainOnVm when the instance is stopped under the training (local stack)', () => {
  const suite = useTrainingSuite('training-vm-stopped');

  /** Starts the training, stops its instance once a checkpoint was copied to the worker side. */
  async function trainAndStopVm(input: TrainOnVmInput): Promise<TrainOnVmResult> {
    const worker = await createTrainingWorker(suite, `stopped-${randomUUID()}`);
    return await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: input.trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await waitForStep(suite.env.client, input.trainingId, 4);
      await waitFor('a synced checkpoint', async () => {
        const monitor = await readMonitorHeartbeat(suite.env.client, input.trainingId);
        return monitor?.live.syncedCheckpoint;
      });
      await suite.stack.provider.stop(input.vm.name);
      return await handle.result();
    });
  }

  it('retries from the copied checkpoint on a fresh instance', async () => {
    const trainingId = `stop-retry-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
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
    expect(launchCount(suite.stack, trainingId)).toBe(2);
    for (const vm of [input.vm.name, `${input.vm.name}-r1`]) {
      expect((await suite.stack.provider.status(vm)).status).toBe('NOT_FOUND');
    }
  });

  it('returns needs-decision with VM_STOPPED when no retry is allowed, never hanging', async () => {
    const trainingId = `stop-decide-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
      env: { TRAINER_STEPS: '200', TRAINER_STEP_SECONDS: '0.2' },
      policy: { maxRetries: 0 },
    });
    const result = await trainAndStopVm(input);
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.VM_STOPPED });
    expect(result.outputs?.checkpointPath).toMatch(/step-\d+\.json$/);
    expect(launchCount(suite.stack, trainingId)).toBe(1);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
  });

  it('restarts a persistent instance (never deletes it) and resumes there from the copied checkpoint', async () => {
    const trainingId = `stop-persist-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
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
    expect(launchCount(suite.stack, trainingId)).toBe(2);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('STOPPED');
  });
});

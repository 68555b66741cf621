import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRecord } from '../../activities/providers/local-instance';
import { trainOnVm } from '../../workflows/train-on-vm';
import { TrainingErrorType } from '../../workflows/training-types';
import {
  createTrainingWorker,
  groupAlive,
  launchCount,
  sshConnectionPids,
  trainerInput,
  waitForStep,
} from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';

describe('trainOnVm when the VM runs but SSH stays unreachable (local stack)', () => {
  const suite = useTrainingSuite('training-unreachable');

  it('gives up after the unreachable limit with UNREACHABLE, then deletes the VM and its training', async () => {
    const trainingId = `unreach-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(suite.stack, trainingId, {
      env: { TRAINER_STEPS: '600', TRAINER_STEP_SECONDS: '0.1' },
      policy: { maxRetries: 0 },
    });
    input.monitor = { ...input.monitor, unreachableLimit: '4 seconds' };
    const worker = await createTrainingWorker(suite, `unreach-${randomUUID()}`, { readyTimeoutMs: 1500 });
    const { result, pgid } = await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await waitForStep(suite.env.client, trainingId, 3);
      const runDir = join(suite.stack.provider.instanceDir(input.vm.name), 'home', 'runs', trainingId);
      const pgid = Number(readFileSync(join(runDir, 'pgid'), 'utf8'));
      // Freeze the instance's sshd (it still "runs", as a VM whose network is gone) and cut the
      // connections it already serves: no new SSH session can be opened.
      const sshdPid = readRecord(suite.stack.provider.instanceDir(input.vm.name))!.sshd!.pid;
      process.kill(sshdPid, 'SIGSTOP');
      for (const pid of sshConnectionPids(suite.stack, input.vm.name)) process.kill(pid, 'SIGKILL');
      return { result: await handle.result(), pgid };
    });
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.UNREACHABLE });
    expect(result.attempts[0]?.outcome.kind).toBe('unreachable');
    expect(launchCount(suite.stack, trainingId)).toBe(1);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
    expect(groupAlive(pgid)).toBe(false);
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecord } from '../../activities/providers/local-instance';
import { createTrainingActivities } from '../../activities/training';
import { trainOnVm } from '../../workflows/train-on-vm';
import { TrainingErrorType } from '../../workflows/training-types';
import { createDevServerEnv } from '../harness/temporal';
import {
  createTrainingStack,
  groupAlive,
  launchCount,
  sshConnectionPids,
  stopAll,
  trainOnVmPath,
  trainerInput,
  waitForStep,
  type TrainingStack,
} from './fixtures/training';

describe('trainOnVm when the VM runs but SSH stays unreachable (local stack)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TrainingStack;
  beforeAll(async () => {
    env = await createDevServerEnv();
    stack = createTrainingStack('training-unreachable');
  });
  afterAll(async () => {
    await stopAll(stack);
    await env?.teardown();
  });

  it('gives up after the unreachable limit with UNREACHABLE, then deletes the VM and its training', async () => {
    const trainingId = `unreach-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '600', TRAINER_STEP_SECONDS: '0.1' },
      policy: { maxRetries: 0 },
    });
    input.monitor = { ...input.monitor, unreachableLimit: '4 seconds' };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `unreach-${randomUUID()}`,
      workflowsPath: trainOnVmPath,
      activities: createTrainingActivities({
        provider: stack.provider,
        registryDir: stack.registryDir,
        ssh: { readyTimeoutMs: 1500 },
      }),
    });
    const { result, pgid } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await waitForStep(env.client, trainingId, 3);
      const runDir = join(stack.provider.instanceDir(input.vm.name), 'home', 'runs', trainingId);
      const pgid = Number(readFileSync(join(runDir, 'pgid'), 'utf8'));
      // Freeze the instance's sshd (it still "runs", as a VM whose network is gone) and cut the
      // connections it already serves: no new SSH session can be opened.
      const sshdPid = readRecord(stack.provider.instanceDir(input.vm.name))!.sshd!.pid;
      process.kill(sshdPid, 'SIGSTOP');
      for (const pid of sshConnectionPids(stack, input.vm.name)) process.kill(pid, 'SIGKILL');
      return { result: await handle.result(), pgid };
    });
    expect(result).toMatchObject({ status: 'needs-decision', reason: TrainingErrorType.UNREACHABLE });
    expect(result.attempts[0]?.outcome.kind).toBe('unreachable');
    expect(launchCount(stack, trainingId)).toBe(1);
    expect((await stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
    expect(groupAlive(pgid)).toBe(false);
  });
});

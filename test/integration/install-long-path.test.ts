import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeBase, runtimeDirOf } from '../../activities/providers/runtime-dir';
import { tmuxDirOf } from '../../activities/providers/sshd';
import { createTrainingActivities } from '../../activities/training';
import { trainOnVm } from '../../workflows/train-on-vm';
import { testTempDir } from '../harness/paths';
import { launchCount, trainOnVmPath, trainerInput, waitFor } from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';

const UNIX_SOCKET_PATH_MAX = 107; // sun_path is 108 bytes with its terminating NUL

/** A folder whose absolute path is at least `length` characters, like a clone in a deep home folder. */
function longDir(length: number): string {
  let dir = testTempDir('long-path');
  for (let i = 0; dir.length < length; i++) dir = join(dir, `a-rather-long-folder-name-${i}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('local VMs and trainings under a long data path (sockets in a short runtime folder)', () => {
  const suite = useTrainingSuite('long-path', () => longDir(160));

  it('trains on a local VM whose folder path is over 150 characters', async () => {
    const { stack, env } = suite;
    expect(stack.vmRoot.length).toBeGreaterThanOrEqual(150);
    const trainingId = `long-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '12', TRAINER_STEP_SECONDS: '0.1', TRAINER_CHECKPOINT_EVERY: '4' },
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `long-${randomUUID()}`,
      workflowsPath: trainOnVmPath,
      activities: createTrainingActivities({ provider: stack.provider, registryDir: stack.registryDir }),
    });
    const instanceDir = stack.provider.instanceDir(input.vm.name);
    const tmuxDir = tmuxDirOf(instanceDir);
    let socket: string | undefined;
    let tmuxDirMode = 0;
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue: worker.options.taskQueue,
      });
      // While the training runs, its tmux server listens on a socket in the short runtime folder.
      socket = await waitFor('the tmux socket of the instance', () => {
        const uidDir = existsSync(tmuxDir)
          ? readdirSync(tmuxDir).find((e) => e.startsWith('tmux-'))
          : undefined;
        const path = uidDir && join(tmuxDir, uidDir, 'default');
        return path && existsSync(path) && statSync(path).isSocket() ? path : undefined;
      });
      tmuxDirMode = statSync(tmuxDir).mode & 0o777;
      return await handle.result();
    });
    expect(result.status).toBe('succeeded');
    expect(launchCount(stack, trainingId)).toBe(1);
    expect(result.metrics).toMatchObject({ count: 12, invalid: 0 });
    expect(existsSync(join(stack.registryDir, trainingId, 'output'))).toBe(true);

    expect(instanceDir.length).toBeGreaterThanOrEqual(150);
    expect(socket!.length).toBeLessThanOrEqual(UNIX_SOCKET_PATH_MAX);
    expect(socket!.startsWith(`${runtimeBase()}/`)).toBe(true);
    expect(socket!.startsWith(instanceDir)).toBe(false);
    // The runtime folder is private to this user.
    expect(tmuxDirMode).toBe(0o700);
    expect(statSync(runtimeBase()).mode & 0o777).toBe(0o700);
    // The ephemeral instance is deleted at the end, and its runtime folder with it.
    expect(existsSync(instanceDir)).toBe(false);
    expect(existsSync(runtimeDirOf(instanceDir))).toBe(false);
  });
});

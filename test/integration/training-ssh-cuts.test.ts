import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrainingProgress } from '../../activities/training/progress';
import { trainOnVm } from '../../workflows/train-on-vm';
import {
  createTrainingWorker,
  launchCount,
  sshConnectionPids,
  trainerInput,
  waitForStep,
} from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';

// Local VMs (sshd + tmux) and fault injection: a loaded 2-core machine needs more than the default 60 s.
describe('trainOnVm on the local stack: SSH connections cut during training', { timeout: 180_000 }, () => {
  const suite = useTrainingSuite('training-ssh-cuts');

  it('completes with one launch while every SSH connection is killed three times', async () => {
    const taskQueue = `train-${randomUUID()}`;
    const trainingId = `cuts-${randomUUID().slice(0, 8)}`;
    const worker = await createTrainingWorker(suite, taskQueue);
    const input = trainerInput(suite.stack, trainingId, {
      env: { TRAINER_STEPS: '30', TRAINER_STEP_SECONDS: '0.25', TRAINER_CHECKPOINT_EVERY: '5' },
      policy: { requireConvergence: true },
    });
    const result = await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue,
      });
      let cuts = 0;
      for (const step of [4, 10, 16]) {
        await waitForStep(suite.env.client, trainingId, step);
        const pids = sshConnectionPids(suite.stack, input.vm.name);
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        if (pids.length > 0) cuts += 1;
      }
      expect(cuts).toBeGreaterThanOrEqual(2);
      // Live progress: the query's phase merged with the monitor's heartbeat (step, loss, elapsed).
      const progress = await readTrainingProgress(suite.env.client, trainingId);
      expect(progress).toMatchObject({
        phase: 'training',
        runId: trainingId,
        monitorActivityId: `monitor-${trainingId}`,
      });
      expect(progress.lastMetric?.step).toBeGreaterThanOrEqual(16);
      expect(progress.live?.reconnects).toBeGreaterThanOrEqual(1);
      expect(progress.elapsedMs).toBeGreaterThan(0);
      return await handle.result();
    });

    expect(result.status).toBe('succeeded');
    expect(result.message).toMatch(/loss decreased/);
    expect(result.lastMetric?.step).toBe(29);
    expect(result.metrics).toMatchObject({ count: 30, invalid: 0 });
    expect(launchCount(suite.stack, trainingId)).toBe(1);
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]?.outcome).toEqual({ kind: 'exited', exitCode: 0 });
    expect(result.attempts[0]?.reconnects).toBeGreaterThanOrEqual(2);

    // Outputs are in the registry; the instance is deleted.
    const outputs = result.outputs!;
    expect(outputs.dir).toBe(join(suite.stack.registryDir, trainingId));
    expect(JSON.parse(readFileSync(join(outputs.modelPath!, 'model.json'), 'utf8'))).toMatchObject({
      steps: 30,
    });
    expect(readFileSync(outputs.metricsPath!, 'utf8').trim().split('\n')).toHaveLength(30);
    expect(readFileSync(outputs.logPath!, 'utf8')).toContain('training done');
    expect(outputs.checkpointPath && existsSync(outputs.checkpointPath)).toBe(true);
    expect((await suite.stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');

    // The monitor reconnected but stayed one activity: no history event per poll or per cut.
    const history = await suite.env.client.workflow.getHandle(trainingId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(scheduled.filter((name) => name === 'monitorTraining')).toHaveLength(1);
  });
});

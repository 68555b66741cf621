import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainOnVm } from '../../workflows/train-on-vm';
import {
  launchCount,
  startWorkerProcess,
  trainerInput,
  waitForResumedMonitor,
  waitForStep,
  type WorkerProcess,
} from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';
import { testTempDir } from '../harness/paths';

// Local VMs (sshd + tmux) and fault injection: a loaded 2-core machine needs more than the default 60 s.
describe(
  'trainOnVm when the worker process is killed mid-training (local stack)',
  { timeout: 180_000 },
  () => {
    const suite = useTrainingSuite('training-worker-crash');
    const workers: WorkerProcess[] = [];
    afterAll(async () => {
      for (const worker of workers) await worker.stop();
    });

    it('resumes monitoring from the heartbeat details in a new worker, never relaunching', async () => {
      const taskQueue = `crash-${randomUUID()}`;
      const trainingId = `crash-${randomUUID().slice(0, 8)}`;
      // The training holds still (before its next step) while this file exists: the outage below
      // then lasts as long as the new worker takes to start on a loaded machine, and the training
      // is still running when the monitor resumes (it used to end first under load, 15 s in all).
      const holdDir = testTempDir('worker-crash-hold');
      const hold = join(holdDir, trainingId);
      const input = trainerInput(suite.stack, trainingId, {
        env: {
          TRAINER_STEPS: '60',
          TRAINER_STEP_SECONDS: '0.25',
          TRAINER_CHECKPOINT_EVERY: '5',
          TRAINER_HOLD_FILE: hold,
        },
      });
      const first = startWorkerProcess(suite.stack, suite.env.address, taskQueue);
      workers.push(first);
      await first.ready;
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: trainingId,
        taskQueue,
      });
      const before = await waitForStep(suite.env.client, trainingId, 5);

      writeFileSync(hold, '');
      await first.kill();
      const killedAt = Date.now();
      const second = startWorkerProcess(suite.stack, suite.env.address, taskQueue);
      workers.push(second);
      await second.ready;
      const readyAt = Date.now();
      rmSync(hold);
      // Resumed: a new attempt of the same monitor activity heartbeats progress past the kill.
      const resumed = await waitForResumedMonitor(
        suite.env.client,
        trainingId,
        before.live.lastMetric?.step ?? 0,
      );
      const resumeMs = Date.now() - readyAt;
      console.log(
        `time to resume monitoring: ${Date.now() - killedAt} ms after the kill, ${resumeMs} ms after the new worker was ready (heartbeat timeout 3 s)`,
      );

      const result = await handle.result();
      expect(result.status).toBe('succeeded');
      expect(launchCount(suite.stack, trainingId)).toBe(1);
      expect(result.attempts).toHaveLength(1);
      // Resumed from the heartbeat: offsets continued (every metric line counted once) and the
      // reconnection is counted; a monitor started from scratch would report zero reconnects.
      expect(result.metrics).toMatchObject({ count: 60, invalid: 0 });
      expect(result.attempts[0]?.reconnects).toBeGreaterThanOrEqual(1);
      expect(resumed.live.runId).toBe(trainingId);
      expect(resumeMs).toBeLessThan(30_000);

      const history = await handle.fetchHistory();
      const monitorStarts = (history.events ?? []).filter(
        (event) =>
          event.activityTaskStartedEventAttributes && event.activityTaskStartedEventAttributes.attempt! >= 2,
      );
      expect(monitorStarts).toHaveLength(1);
    });
  },
);

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMonitorHeartbeat } from '../../activities/training/progress';
import { trainOnVm } from '../../workflows/train-on-vm';
import { createDevServerEnv } from '../harness/temporal';
import {
  createTrainingStack,
  launchCount,
  startWorkerProcess,
  stopAll,
  trainerInput,
  waitFor,
  waitForStep,
  type TrainingStack,
  type WorkerProcess,
} from './fixtures/training';

describe('trainOnVm when the worker process is killed mid-training (local stack)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TrainingStack;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    env = await createDevServerEnv();
    stack = createTrainingStack('training-worker-crash');
  });
  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await stopAll(stack);
    await env?.teardown();
  });

  it('resumes monitoring from the heartbeat details in a new worker, never relaunching', async () => {
    const taskQueue = `crash-${randomUUID()}`;
    const trainingId = `crash-${randomUUID().slice(0, 8)}`;
    const input = trainerInput(stack, trainingId, {
      env: { TRAINER_STEPS: '60', TRAINER_STEP_SECONDS: '0.25', TRAINER_CHECKPOINT_EVERY: '5' },
    });
    const first = startWorkerProcess(stack, env.address, taskQueue);
    workers.push(first);
    await first.ready;
    const handle = await env.client.workflow.start(trainOnVm, {
      args: [input],
      workflowId: trainingId,
      taskQueue,
    });
    const before = await waitForStep(env.client, trainingId, 5);

    await first.kill();
    const killedAt = Date.now();
    const second = startWorkerProcess(stack, env.address, taskQueue);
    workers.push(second);
    await second.ready;
    // Resumed: a new attempt of the same monitor activity heartbeats progress past the kill.
    const resumed = await waitFor('the monitor to resume in the new worker', async () => {
      const monitor = await readMonitorHeartbeat(env.client, trainingId);
      const step = monitor?.live.lastMetric?.step ?? -1;
      return monitor && monitor.monitorAttempt >= 2 && step > (before.live.lastMetric?.step ?? 0)
        ? monitor
        : undefined;
    });
    const resumeMs = Date.now() - killedAt;
    console.log(`time to resume monitoring after a worker kill: ${resumeMs} ms (heartbeat timeout 3 s)`);

    const result = await handle.result();
    expect(result.status).toBe('succeeded');
    expect(launchCount(stack, trainingId)).toBe(1);
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
});

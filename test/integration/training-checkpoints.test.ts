import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMonitorHeartbeat } from '../../activities/training/progress';
import { trainOnVm } from '../../workflows/train-on-vm';
import type { TrainOnVmInput, TrainOnVmResult } from '../../workflows/training-types';
import { logsContaining } from '../harness/logs';
import { createTrainingWorker, launchCount, trainerInput, waitFor } from './fixtures/training';
import { useTrainingSuite } from './fixtures/training-suite';

// Local VMs (sshd + tmux) and fault injection: a loaded 2-core machine needs more than the default 60 s.
describe('checkpoint copies of a training (local stack)', { timeout: 180_000 }, () => {
  const suite = useTrainingSuite('training-checkpoints');
  const syncedDir = (trainingId: string) => join(suite.stack.registryDir, trainingId, 'synced');

  async function train(input: TrainOnVmInput, during?: () => Promise<void>): Promise<TrainOnVmResult> {
    const worker = await createTrainingWorker(suite, `ckpt-${randomUUID()}`);
    return await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(trainOnVm, {
        args: [input],
        workflowId: input.trainingId,
        taskQueue: worker.options.taskQueue,
      });
      await during?.();
      return await handle.result();
    });
  }

  it('copies checkpoints of a training that rotates them faster than it is polled, without a failed copy', async () => {
    const trainingId = `rotate-${randomUUID().slice(0, 8)}`;
    const result = await train(
      trainerInput(suite.stack, trainingId, {
        env: {
          TRAINER_STEPS: '150',
          TRAINER_STEP_SECONDS: '0.02',
          TRAINER_CHECKPOINT_EVERY: '1',
          TRAINER_KEEP_CHECKPOINTS: '2',
        },
        monitor: { heartbeatTimeout: '3 seconds', pollInterval: '50 milliseconds' },
      }),
    );
    expect(result.status).toBe('succeeded');
    expect(launchCount(suite.stack, trainingId)).toBe(1);
    // The checkpoint rotated between a poll's listing and its copy is skipped quietly, never a warning.
    expect(logsContaining('checkpoint copy failed')).toEqual([]);
    expect(result.outputs?.checkpointPath).toMatch(/step-000149\.json$/);
    expect(existsSync(result.outputs!.checkpointPath!)).toBe(true);
    expect(existsSync(syncedDir(trainingId))).toBe(false);
  });

  it('removes the copies a crashed monitor attempt left, and collect removes the staging folder', async () => {
    const trainingId = `orphan-${randomUUID().slice(0, 8)}`;
    const runSynced = join(syncedDir(trainingId), trainingId);
    const result = await train(
      trainerInput(suite.stack, trainingId, {
        env: { TRAINER_STEPS: '40', TRAINER_STEP_SECONDS: '0.2', TRAINER_CHECKPOINT_EVERY: '5' },
      }),
      async () => {
        // What a monitor attempt that died between a copy and its heartbeat leaves behind: a complete
        // copy nobody knows of, and a half one.
        mkdirSync(runSynced, { recursive: true });
        writeFileSync(join(runSynced, 'step-000001.json'), '{"step": 1}');
        writeFileSync(join(runSynced, 'step-000002.json.partial'), '{"st');
        await waitFor('a synced checkpoint past the planted ones', async () => {
          const name = (await readMonitorHeartbeat(suite.env.client, trainingId))?.live.syncedCheckpoint
            ?.name;
          return name && name > 'step-000002' ? name : undefined;
        });
        // The training goes on rotating its checkpoints, so the copy kept is the newest one at the
        // time of reading; what matters is that the planted ones went and one copy is kept.
        const kept = await waitFor('only the newest copy kept, the planted ones removed', async () => {
          const files = readdirSync(runSynced);
          return files.length === 1 && (files[0] as string) > 'step-000002' ? files : undefined;
        });
        expect(kept[0]).toMatch(/^step-\d{6}\.json$/);
      },
    );
    expect(result.status).toBe('succeeded');
    expect(existsSync(syncedDir(trainingId))).toBe(false);
    expect(readdirSync(join(suite.stack.registryDir, trainingId, 'checkpoint'))).toEqual([
      'step-000039.json',
    ]);
  });
});

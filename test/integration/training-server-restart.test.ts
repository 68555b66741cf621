import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../activities/providers/process';
import { startTemporalDevServer, type TemporalDevServer } from '../../scripts/stack/temporal';
import { trainOnVm } from '../../workflows/train-on-vm';
import { testLogFile } from '../harness/paths';
import {
  createTrainingStack,
  launchCount,
  startWorkerProcess,
  stopAll,
  trainerInput,
  waitForStep,
  type TrainingStack,
  type WorkerProcess,
} from './fixtures/training';

// Local VMs (sshd + tmux) and fault injection: a loaded 2-core machine needs more than the default 60 s.
describe(
  'trainOnVm while the Temporal dev server restarts on its SQLite file (local stack)',
  { timeout: 180_000 },
  () => {
    let stack: TrainingStack;
    let server: TemporalDevServer | undefined;
    let worker: WorkerProcess | undefined;
    const connections: Connection[] = [];
    beforeAll(() => {
      stack = createTrainingStack('training-server-restart');
    });
    afterAll(async () => {
      await worker?.stop();
      for (const connection of connections) await connection.close();
      await server?.stop();
      await stopAll(stack);
    });

    async function connectClient(address: string): Promise<Client> {
      const connection = await Connection.connect({ address });
      connections.push(connection);
      return new Client({ connection });
    }

    it('completes with one launch after the server went down and came back mid-training', async () => {
      const port = await freePort();
      const dbFile = join(stack.dir, 'temporal.db');
      const start = () =>
        startTemporalDevServer({
          dbFile,
          port,
          headless: true,
          logFile: testLogFile('training-server-restart.log'),
        });
      server = await start();
      const taskQueue = `restart-${randomUUID()}`;
      const trainingId = `restart-${randomUUID().slice(0, 8)}`;
      worker = startWorkerProcess(stack, server.address, taskQueue);
      await worker.ready;

      const before = await connectClient(server.address);
      const input = trainerInput(stack, trainingId, {
        env: { TRAINER_STEPS: '50', TRAINER_STEP_SECONDS: '0.25', TRAINER_CHECKPOINT_EVERY: '5' },
      });
      await before.workflow.start(trainOnVm, { args: [input], workflowId: trainingId, taskQueue });
      await waitForStep(before, trainingId, 4);

      await server.stop();
      server = await start();
      const after = await connectClient(server.address);
      // The restarted server still knows the run, and the monitor keeps heartbeating progress into it.
      await waitForStep(after, trainingId, 20);
      const result = await after.workflow.getHandle<typeof trainOnVm>(trainingId).result();
      expect(result.status).toBe('succeeded');
      expect(result.metrics).toMatchObject({ count: 50, invalid: 0 });
      expect(launchCount(stack, trainingId)).toBe(1);
      expect((await stack.provider.status(input.vm.name)).status).toBe('NOT_FOUND');
    });
  },
);

import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointRef, CollectedOutputs, TrainingStatus } from '../../workflows/training-types';
import type { RemoteSession } from './session';

export interface CollectInput {
  trainingId: string;
  vmName: string;
  runId: string;
  status: TrainingStatus;
  /** False when the VM is gone: only what was already copied (synced checkpoints) is kept. */
  vmAvailable: boolean;
  /** Latest checkpoint as the monitor last saw and copied it. */
  checkpoint?: CheckpointRef;
  syncedCheckpoint?: CheckpointRef;
}

const RUN_FILES = ['train.log', 'metrics.jsonl', 'exit_code', 'started_at', 'ended_at', 'killed_by'];

/**
 * Copies a run's results into the registry folder `<registry>/<trainingId>/`: the run's log, metrics
 * and markers under `runs/<runId>/`, its `output/` (the model of a successful run) and the latest
 * checkpoint under `checkpoint/`; writes `manifest.json` naming the model to use. Last, the training's
 * staging folder `synced/` goes: every copy the monitors made (crashed attempts' included) has served.
 * A retried collect finds what the first attempt copied.
 */
export async function collectRun(
  sftp: RemoteSession | undefined,
  home: string,
  registryDir: string,
  input: CollectInput,
): Promise<CollectedOutputs> {
  const dir = join(registryDir, input.trainingId);
  const runLocal = join(dir, 'runs', input.runId);
  mkdirSync(runLocal, { recursive: true });
  const runRemote = `${home}/runs/${input.runId}`;
  if (sftp) {
    for (const file of RUN_FILES) {
      if (await sftp.exists(`${runRemote}/${file}`))
        await sftp.download(`${runRemote}/${file}`, join(runLocal, file));
    }
    if (input.status === 'succeeded' && (await sftp.exists(`${runRemote}/output`))) {
      await sftp.download(`${runRemote}/output`, join(dir, 'output'));
    }
  }
  const checkpointPath = await collectCheckpoint(sftp, dir, input);
  const outputs: CollectedOutputs = {
    dir,
    modelPath:
      input.status === 'succeeded' && existsSync(join(dir, 'output'))
        ? join(dir, 'output')
        : input.status === 'accepted-checkpoint'
          ? checkpointPath
          : undefined,
    checkpointPath,
    metricsPath: existsSync(join(runLocal, 'metrics.jsonl')) ? join(runLocal, 'metrics.jsonl') : undefined,
    logPath: existsSync(join(runLocal, 'train.log')) ? join(runLocal, 'train.log') : undefined,
  };
  writeFileSync(
    join(dir, 'manifest.json'),
    `${JSON.stringify({ trainingId: input.trainingId, runId: input.runId, vm: input.vmName, status: input.status, ...outputs }, null, 2)}\n`,
  );
  rmSync(join(dir, 'synced'), { recursive: true, force: true });
  return outputs;
}

/**
 * The latest checkpoint into `checkpoint/<name>`: from the VM when it still has it, else the monitor's
 * synced copy, else what an earlier attempt of this collect already put there.
 */
async function collectCheckpoint(
  sftp: RemoteSession | undefined,
  dir: string,
  input: CollectInput,
): Promise<string | undefined> {
  const checkpoint = input.checkpoint ?? input.syncedCheckpoint;
  if (!checkpoint) return undefined;
  const target = (name: string) => join(dir, 'checkpoint', name);
  const place = async (name: string, copy: (to: string) => Promise<unknown> | void) => {
    const partial = `${target(name)}.partial`;
    mkdirSync(join(dir, 'checkpoint'), { recursive: true });
    rmSync(partial, { recursive: true, force: true });
    await copy(partial);
    rmSync(target(name), { recursive: true, force: true });
    renameSync(partial, target(name));
    return target(name);
  };
  if (sftp && checkpoint.remotePath && (await sftp.exists(checkpoint.remotePath)))
    return await place(checkpoint.name, (to) => sftp.download(checkpoint.remotePath!, to));
  const synced = input.syncedCheckpoint;
  if (synced?.localPath && existsSync(synced.localPath))
    return await place(synced.name, (to) => cpSync(synced.localPath!, to, { recursive: true }));
  return [checkpoint.name, synced?.name].map((name) => name && target(name)).find((p) => p && existsSync(p));
}

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { join, resolve } from 'node:path';
import type { VmInfo, VmProvider, VmSpec } from '../providers/types';
import type { SshOptions } from '../remote/ssh';
import { TrainingErrorType, type CollectedOutputs, type MonitorResult } from '../../workflows/training-types';
import { whileHeartbeating } from '../heartbeat';
import { collectRun, type CollectInput } from './collect';
import { judgeAttempt, type JudgeInput, type Verdict } from './judge';
import { killRun, monitorRun, type MonitorInput } from './monitor';
import { launchCommand, RUN_ID_PATTERN } from './remote';
import { RemoteSession } from './session';
import { uploadRun, type UploadInput } from './upload';

export interface TrainingDeps {
  provider: VmProvider;
  /** Registry root (`<DATA_DIR>/registry`): each training's outputs land in `<registry>/<trainingId>/`. */
  registryDir: string;
  ssh?: SshOptions;
}

export type LaunchState = 'launched' | 'running' | 'finished' | 'vanished';

function checkRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw ApplicationFailure.create({
      type: TrainingErrorType.INVALID_INPUT,
      message: `run id ${JSON.stringify(runId)} must match ${RUN_ID_PATTERN}`,
      nonRetryable: true,
    });
  }
}

/**
 * Activities of `trainOnVm`: provision, SSH, upload, idempotent launch, the long monitor, judge,
 * collect and teardown. Every one is safe to retry: launch never starts a run twice, teardown and
 * kill are no-ops on what is already gone.
 */
export function createTrainingActivities(deps: TrainingDeps) {
  const registryDir = resolve(deps.registryDir);
  const connect = async (vmName: string) =>
    RemoteSession.connect(await deps.provider.sshTarget(vmName), deps.ssh);
  const monitorDeps = {
    provider: deps.provider,
    ssh: deps.ssh,
    checkpointDir: (trainingId: string, runId: string) => join(registryDir, trainingId, 'synced', runId),
  };

  return {
    /** Creates the instance (or starts the persistent one); resolves when it runs. */
    async provisionTrainingVm(spec: VmSpec): Promise<VmInfo> {
      return await whileHeartbeating(() => deps.provider.provision(spec), { phase: 'provisioning' });
    },

    /** Retries SSH until the instance answers (sshd comes up after the instance reports RUNNING). */
    async waitForTrainingSsh(input: { vmName: string; timeoutMs: number }): Promise<void> {
      const deadline = Date.now() + input.timeoutMs;
      let lastError = '';
      while (Date.now() < deadline) {
        Context.current().heartbeat({ lastError });
        try {
          const session = await connect(input.vmName);
          session.close();
          return;
        } catch (error) {
          lastError = error instanceof Error ? error.message : String(error);
        }
        await Context.current().sleep(1000);
      }
      throw ApplicationFailure.create({
        type: TrainingErrorType.UNREACHABLE,
        message: `no SSH on ${input.vmName} within ${input.timeoutMs / 1000} s: ${lastError}`,
      });
    },

    /** Uploads wrapper, code, inputs and resume checkpoint; a launched run is never touched. */
    async uploadTrainingRun(input: UploadInput): Promise<{ uploaded: boolean }> {
      checkRunId(input.runId);
      return await whileHeartbeating(
        async () => {
          const session = await connect(input.vmName);
          try {
            return { uploaded: await uploadRun(session, input) };
          } finally {
            session.close();
          }
        },
        { phase: 'uploading', runId: input.runId },
      );
    },

    /** Starts the wrapper in tmux unless this run was ever launched (see `launchCommand`). */
    async launchTraining(input: { vmName: string; runId: string }): Promise<{ state: LaunchState }> {
      checkRunId(input.runId);
      return await whileHeartbeating(
        async () => {
          const session = await connect(input.vmName);
          try {
            const out = await session.run(launchCommand(input.runId), { timeoutMs: 30_000 });
            const state = /state=(\w+)/.exec(out)?.[1] as LaunchState | undefined;
            if (!state) throw new Error(`launch of ${input.runId} printed no state: ${out}`);
            Context.current().log.info('training launch', { runId: input.runId, state });
            return { state };
          } finally {
            session.close();
          }
        },
        { phase: 'launching', runId: input.runId },
      );
    },

    /** The one long activity: polls until the run ends; progress lives in its heartbeat details. */
    async monitorTraining(input: MonitorInput): Promise<MonitorResult> {
      return await monitorRun(monitorDeps, input);
    },

    /** The step policy's verdict on an attempt (pure; run as a local activity so it is recorded). */
    async judgeTraining(input: JudgeInput): Promise<Verdict> {
      return judgeAttempt(input);
    },

    /** Kills the run's process group; nothing to do when the instance no longer runs. */
    async killTraining(input: { vmName: string; runId: string }): Promise<{ stopped: boolean }> {
      return await whileHeartbeating(() => killOn(input));
    },

    /** Copies log, metrics, model and latest checkpoint into the registry (see `collectRun`). */
    async collectTrainingOutputs(input: Omit<CollectInput, 'vmAvailable'>): Promise<CollectedOutputs> {
      return await whileHeartbeating(() => collect(input), { phase: 'collecting' });
    },

    /** Deletes a created instance, or stops the persistent one (it keeps its disk). */
    async teardownTrainingVm(input: { vmName: string; persistent: boolean }): Promise<void> {
      await whileHeartbeating(async () => {
        if (input.persistent) await deps.provider.stop(input.vmName);
        else await deps.provider.delete(input.vmName);
      });
    },
  };

  async function killOn(input: { vmName: string; runId: string }): Promise<{ stopped: boolean }> {
    const { status } = await deps.provider.status(input.vmName);
    if (status !== 'RUNNING') return { stopped: true };
    try {
      return { stopped: await killRun(deps, input.vmName, input.runId) };
    } catch (error) {
      // Unreachable but running: teardown (delete or stop) ends the training with the instance.
      Context.current().log.warn('could not kill training over SSH', { ...input, error: String(error) });
      return { stopped: false };
    }
  }

  async function collect(input: Omit<CollectInput, 'vmAvailable'>): Promise<CollectedOutputs> {
    const running = (await deps.provider.status(input.vmName)).status === 'RUNNING';
    const offline = () => collectRun(undefined, '', registryDir, { ...input, vmAvailable: false });
    if (!running) return await offline();
    let session: RemoteSession;
    try {
      session = await connect(input.vmName);
    } catch (error) {
      // Running but unreachable: keep what was copied during training rather than block the step.
      Context.current().log.warn('VM unreachable, collecting the synced copies only', {
        error: String(error),
      });
      return await offline();
    }
    try {
      const home = (await session.run('printf %s "$HOME"')).trim();
      return await collectRun(session, home, registryDir, { ...input, vmAvailable: true });
    } finally {
      session.close();
    }
  }
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;

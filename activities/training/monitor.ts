import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { VmProvider } from '../providers/types';
import { SshSession, type SshOptions } from '../remote/ssh';
import type { CheckpointRef, MonitorHeartbeat, MonitorResult } from '../../workflows/training-types';
import { applyProbe, drained, freshHeartbeat } from './metrics';
import { killCommand, parseProbe, probeCommand, runDirOf, type ProbeResult } from './remote';
import { SftpSession } from './sftp';

export interface MonitorInput {
  trainingId: string;
  vmName: string;
  runId: string;
  pollIntervalMs: number;
  providerCheckAfterMs: number;
  unreachableLimitMs: number;
  maxBackoffMs: number;
  /** Copy each new checkpoint to the worker side, so a preempted VM does not take it along. */
  syncCheckpoints: boolean;
}

export interface MonitorDeps {
  provider: VmProvider;
  ssh?: SshOptions;
  /** Staging folder of this training's synced checkpoints. */
  checkpointDir: (trainingId: string, runId: string) => string;
}

const GONE = new Set(['STOPPING', 'STOPPED', 'SUSPENDED', 'TERMINATED', 'NOT_FOUND']);
const EXEC_TIMEOUT_MS = 30_000;

const cancelRequested = (error: unknown): boolean =>
  error instanceof CancelledFailure && Context.current().cancellationDetails?.cancelRequested === true;

/**
 * Watches one launched run until it ends, the VM goes away, or SSH stays unreachable too long.
 * Every poll is one SSH exec; progress goes only to heartbeats. A retried attempt (worker crash,
 * heartbeat timeout) starts from the last heartbeat's offsets and never launches anything.
 */
export async function monitorRun(deps: MonitorDeps, input: MonitorInput): Promise<MonitorResult> {
  const ctx = Context.current();
  const previous = ctx.info.heartbeatDetails as MonitorHeartbeat | undefined;
  const resumed = previous?.runId === input.runId;
  const state: MonitorHeartbeat = resumed ? { ...previous } : freshHeartbeat(input.runId);
  if (resumed) ctx.log.info('monitor resumes from heartbeat details', { ...state, logTail: undefined });
  let session: SshSession | undefined;
  let connections = 0;
  let backoffMs = Math.min(500, input.maxBackoffMs);
  let quietPolls = 0;
  let signalledPolls = 0;
  let home = '';
  try {
    for (;;) {
      try {
        if (!session) {
          session = await SshSession.connect(await deps.provider.sshTarget(input.vmName), deps.ssh);
          if (connections++ > 0 || resumed) state.reconnects += 1;
          home = (await session.run('printf %s "$HOME"', { timeoutMs: EXEC_TIMEOUT_MS })).trim();
        }
        const probe = parseProbe(
          await session.run(probeCommand(input.runId, state.logOffset, state.metricsOffset), {
            timeoutMs: EXEC_TIMEOUT_MS,
          }),
        );
        state.unreachableSince = undefined;
        state.polls = (state.polls ?? 0) + 1;
        backoffMs = Math.min(500, input.maxBackoffMs);
        const seenBefore = state.checkpoint;
        applyProbe(state, probe);
        state.checkpoint = probe.checkpoint && {
          ...probe.checkpoint,
          remotePath: `${home}/${runDirOf(input.runId)}/checkpoints/${probe.checkpoint.name}`,
        };
        if (input.syncCheckpoints && shouldSync(state, seenBefore, probe)) {
          const old = state.syncedCheckpoint?.localPath;
          state.syncedCheckpoint = await syncCheckpoint(deps, input, state.checkpoint!);
          if (old && old !== state.syncedCheckpoint.localPath) rmSync(old, { recursive: true, force: true });
        }
        ctx.heartbeat(state);
        if (probe.exitCode !== undefined) {
          if (!drained(state, probe)) continue;
          // A signalled wrapper usually means the instance is going down: give SSH two more polls to
          // fail, so a stopped VM is reported as such rather than as a failure to retry on it.
          if (probe.killedBy && signalledPolls++ < 2) {
            await ctx.sleep(input.pollIntervalMs);
            continue;
          }
          return { kind: 'exited', exitCode: probe.exitCode, progress: state };
        }
        quietPolls = probe.runDirExists && (probe.tmuxAlive || probe.pidAlive) ? 0 : quietPolls + 1;
        // Two quiet polls in a row: a single one can be the instant between the training's end and
        // its exit_code landing.
        if (quietPolls >= 2) {
          const status = await vmStatus(deps.provider, input.vmName);
          if (status && GONE.has(status)) return { kind: 'vm-stopped', vmStatus: status, progress: state };
          return { kind: 'vanished', progress: state };
        }
        await ctx.sleep(input.pollIntervalMs);
      } catch (error) {
        if (error instanceof CancelledFailure) throw error;
        session?.destroy();
        session = undefined;
        state.unreachableSince ??= Date.now();
        const downMs = Date.now() - state.unreachableSince;
        ctx.log.warn('training VM unreachable, reconnecting', {
          vm: input.vmName,
          downMs,
          error: error instanceof Error ? error.message : String(error),
        });
        ctx.heartbeat(state);
        // The provider itself refusing SSH coordinates is a reason to ask it right away.
        const providerSaysDown =
          error instanceof ApplicationFailure &&
          (error.type === 'VM_NOT_RUNNING' || error.type === 'VM_NOT_FOUND');
        if (providerSaysDown || downMs >= input.providerCheckAfterMs) {
          const status = await vmStatus(deps.provider, input.vmName);
          if (status && GONE.has(status)) return { kind: 'vm-stopped', vmStatus: status, progress: state };
        }
        if (downMs >= input.unreachableLimitMs)
          return { kind: 'unreachable', forMs: downMs, progress: state };
        await ctx.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, input.maxBackoffMs);
      }
    }
  } catch (error) {
    // Only an explicit cancel ends the training: a worker shutdown or a timeout must leave it running.
    if (cancelRequested(error)) await killRun(deps, input.vmName, input.runId).catch(() => undefined);
    throw error;
  } finally {
    session?.close();
  }
}

/** A checkpoint is copied once it is unchanged over two polls (or the run ended) and not copied yet. */
function shouldSync(
  state: MonitorHeartbeat,
  seenBefore: CheckpointRef | undefined,
  probe: ProbeResult,
): boolean {
  const current = state.checkpoint;
  if (!current || state.syncedCheckpoint?.name === current.name) return false;
  const stable = seenBefore?.name === current.name && seenBefore.size === current.size;
  return stable || probe.exitCode !== undefined;
}

async function syncCheckpoint(
  deps: MonitorDeps,
  input: MonitorInput,
  checkpoint: CheckpointRef,
): Promise<CheckpointRef> {
  const dir = deps.checkpointDir(input.trainingId, input.runId);
  const target = join(dir, checkpoint.name);
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const sftp = await SftpSession.connect(await deps.provider.sshTarget(input.vmName));
  try {
    await sftp.download(checkpoint.remotePath!, partial);
  } finally {
    sftp.close();
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(partial, target);
  return { ...checkpoint, localPath: target };
}

async function vmStatus(provider: VmProvider, vmName: string): Promise<string | undefined> {
  try {
    return (await provider.status(vmName)).status;
  } catch {
    return undefined; // the provider's API is down too: keep trying SSH
  }
}

/** Ends the run's process group and tmux session; true when nothing of it runs any more. */
export async function killRun(
  deps: Pick<MonitorDeps, 'provider' | 'ssh'>,
  vmName: string,
  runId: string,
): Promise<boolean> {
  const session = await SshSession.connect(await deps.provider.sshTarget(vmName), deps.ssh);
  try {
    const out = await session.run(killCommand(runId), { timeoutMs: EXEC_TIMEOUT_MS });
    return out.includes('alive=0');
  } finally {
    session.close();
  }
}

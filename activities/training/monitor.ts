import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { VmProvider } from '../providers/types';
import type { SshOptions } from '../remote/ssh';
import type { CheckpointRef, MonitorHeartbeat, MonitorResult } from '../../workflows/training-types';
import { applyProbe, drained, freshHeartbeat } from './metrics';
import {
  dropSnapshotCommand,
  killCommand,
  parseProbe,
  probeCommand,
  runDirOf,
  snapshotCheckpointCommand,
  SYNC_DIR,
  type ProbeResult,
} from './remote';
import { RemoteSession } from './session';

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

const KILL_WAIT_MS = 45_000;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Any network wait of the monitor also ends on cancellation, so a hung link never outlives a cancel. */
function orCancelled<T>(operation: Promise<T>): Promise<T> {
  operation.catch(() => undefined);
  return Promise.race([operation, Context.current().cancelled]);
}

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
  let session: RemoteSession | undefined;
  let connections = 0;
  let backoffMs = Math.min(500, input.maxBackoffMs);
  let quietPolls = 0;
  let signalledPolls = 0;
  let home = '';
  try {
    for (;;) {
      try {
        if (!session) {
          const connected: RemoteSession = await orCancelled(
            deps.provider.sshTarget(input.vmName).then((target) => RemoteSession.connect(target, deps.ssh)),
          );
          session = connected;
          if (connections++ > 0 || resumed) state.reconnects += 1;
          home = (await connected.run('printf %s "$HOME"', { timeoutMs: EXEC_TIMEOUT_MS })).trim();
        }
        const current: RemoteSession = session;
        const probe = parseProbe(
          await orCancelled(
            current.run(probeCommand(input.runId, state.logOffset, state.metricsOffset), {
              timeoutMs: EXEC_TIMEOUT_MS,
            }),
          ),
        );
        state.unreachableSince = undefined;
        state.polls = (state.polls ?? 0) + 1;
        backoffMs = Math.min(500, input.maxBackoffMs);
        const seenBefore = state.checkpoint;
        applyProbe(state, probe);
        const remote = (name: string) => `${home}/${runDirOf(input.runId)}/checkpoints/${name}`;
        state.checkpoint = probe.checkpoint && {
          name: probe.checkpoint.name,
          size: probe.checkpoint.size,
          remotePath: remote(probe.checkpoint.name),
        };
        const toSync = input.syncCheckpoints ? checkpointToSync(state, seenBefore, probe) : undefined;
        if (toSync) {
          try {
            const synced = await orCancelled(syncCheckpoint(current, deps, input, home, toSync));
            // Rotated away before we could freeze it: a newer one is there, copied on a later poll.
            if (synced) state.syncedCheckpoint = synced;
            else ctx.log.debug('checkpoint rotated before its copy', { checkpoint: toSync.name });
          } catch (error) {
            if (error instanceof CancelledFailure) throw error;
            // A copy that fails (the link dropped) is retried on a later poll; it must not count as
            // the VM being unreachable.
            ctx.log.warn('checkpoint copy failed', { checkpoint: toSync.name, error: errorText(error) });
          }
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
    // Bounded, because the workflow may be deleting the VM at the same moment (it kills too).
    if (cancelRequested(error)) {
      await Promise.race([
        killRun(deps, input.vmName, input.runId).catch(() => undefined),
        delay(KILL_WAIT_MS),
      ]);
    }
    throw error;
  } finally {
    session?.close();
  }
}

const SETTLED_MS = 2000;

/**
 * Which checkpoint to copy now, if any: the newest once it is complete (unchanged over two polls,
 * untouched for a while, or the run ended), else the one before it, which is complete as soon as a
 * newer one exists. Trainings that checkpoint faster than we poll still get a recent copy.
 */
export function checkpointToSync(
  state: MonitorHeartbeat,
  seenBefore: CheckpointRef | undefined,
  probe: ProbeResult,
): { name: string; size: number } | undefined {
  const newest = probe.checkpoint;
  if (!newest) return undefined;
  const synced = state.syncedCheckpoint?.name;
  if (synced === newest.name) return undefined;
  const unchanged = seenBefore?.name === newest.name && seenBefore.size === newest.size;
  if (unchanged || newest.ageMs >= SETTLED_MS || probe.exitCode !== undefined) return newest;
  const previous = probe.previousCheckpoint;
  if (previous && previous !== synced) return { name: previous, size: 0 };
  return undefined;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Copies a checkpoint through the monitor's own connection: frozen on the VM first (hard links, see
 * `snapshotCheckpointCommand`), downloaded into `.partial`, then renamed. Afterwards the run's staging
 * folder holds only this copy: the previous one, and any a crashed monitor attempt copied without
 * living to heartbeat it, are removed. Undefined when the training rotated the checkpoint away first.
 */
async function syncCheckpoint(
  session: RemoteSession,
  deps: MonitorDeps,
  input: MonitorInput,
  home: string,
  checkpoint: { name: string; size: number },
): Promise<CheckpointRef | undefined> {
  const frozen = await session.run(snapshotCheckpointCommand(input.runId, checkpoint.name), {
    timeoutMs: EXEC_TIMEOUT_MS,
  });
  if (!frozen.includes('snapshot=ok')) return undefined;
  const dir = deps.checkpointDir(input.trainingId, input.runId);
  const target = join(dir, checkpoint.name);
  const partial = `${target}.partial`;
  try {
    rmSync(partial, { recursive: true, force: true });
    await session.download(`${home}/${runDirOf(input.runId)}/${SYNC_DIR}/${checkpoint.name}`, partial);
    rmSync(target, { recursive: true, force: true });
    renameSync(partial, target);
  } finally {
    await session.run(dropSnapshotCommand(input.runId), { timeoutMs: EXEC_TIMEOUT_MS }).catch(() => '');
  }
  removeAllBut(dir, checkpoint.name);
  return {
    name: checkpoint.name,
    size: checkpoint.size,
    remotePath: `${home}/${runDirOf(input.runId)}/checkpoints/${checkpoint.name}`,
    localPath: target,
  };
}

/** Removes every entry of `dir` except `keep`. */
export function removeAllBut(dir: string, keep: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir))
    if (entry !== keep) rmSync(join(dir, entry), { recursive: true, force: true });
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
  const session = await RemoteSession.connect(await deps.provider.sshTarget(vmName), deps.ssh);
  try {
    const out = await session.run(killCommand(runId), { timeoutMs: EXEC_TIMEOUT_MS });
    return out.includes('alive=0');
  } finally {
    session.close();
  }
}

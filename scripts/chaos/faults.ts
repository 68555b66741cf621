// Faults the chaos run injects into the local stack's VMs: every SSH connection cut at once, and a
// training's launch held on the VM so a worker kill lands inside it. Local provider only (Linux /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecord } from '../../activities/providers/local-instance';

/** The per-connection sshd processes of every running local instance (children of its listening sshd). */
export function sshConnectionPids(vmRoot: string): number[] {
  if (!existsSync(vmRoot)) return [];
  const listeners = new Set<number>();
  for (const name of readdirSync(vmRoot)) {
    const pid = readRecord(join(vmRoot, name))?.sshd?.pid;
    if (pid) listeners.add(pid);
  }
  if (listeners.size === 0) return [];
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return listeners.has(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Cuts every SSH connection to every local instance (SIGKILL of its sshd child); returns how many. */
export function cutSshConnections(vmRoot: string): number {
  let cut = 0;
  for (const pid of sshConnectionPids(vmRoot)) {
    try {
      process.kill(pid, 'SIGKILL');
      cut++;
    } catch {
      // ended by itself meanwhile
    }
  }
  return cut;
}

/** Run folders on local instances that exist (the upload started) and were never launched. */
export function runsAwaitingLaunch(vmRoot: string): { vmName: string; runId: string; dir: string }[] {
  if (!existsSync(vmRoot)) return [];
  const found: { vmName: string; runId: string; dir: string }[] = [];
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return []; // not there yet, or an instance being deleted
    }
  };
  for (const vmName of list(vmRoot)) {
    const runs = join(vmRoot, vmName, 'home', 'runs');
    for (const runId of list(runs)) {
      const dir = join(runs, runId);
      if (!existsSync(join(dir, 'launched_at'))) found.push({ vmName, runId, dir });
    }
  }
  return found;
}

/**
 * Holds a run's launch lock (`.launch.lock`, which the launch command takes with flock before it
 * checks and starts anything), so the launch activity blocks inside its SSH command until released.
 */
export class LaunchHold {
  /** When the lock was taken (epoch ms). */
  readonly takenAt = Date.now();

  private constructor(
    private readonly holder: ChildProcess,
    readonly runDir: string,
  ) {}

  /**
   * Takes the lock; undefined when the launch got it first (it has launched by the time we hold it).
   */
  static async take(runDir: string): Promise<LaunchHold | undefined> {
    // -o: only flock itself holds the lock (not its shell); its own process group, ended as a whole.
    const holder = spawn(
      'flock',
      ['-x', '-o', join(runDir, '.launch.lock'), '-c', 'echo held; exec sleep 3600'],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    const held = await new Promise<boolean>((resolve) => {
      holder.stdout?.once('data', () => resolve(true));
      holder.once('exit', () => resolve(false));
    });
    const hold = new LaunchHold(holder, runDir);
    if (!held || existsSync(join(runDir, 'launched_at'))) {
      hold.release();
      return undefined;
    }
    return hold;
  }

  /** Lets the launch go on. */
  release(): void {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) return;
    try {
      process.kill(-this.holder.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

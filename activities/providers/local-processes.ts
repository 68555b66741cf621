import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The process side of a `local` instance, read from /proc (Linux). Instances share one user, so what
 * belongs to an instance is told by its environment: every session its sshd opens gets the
 * instance's own HOME and TMUX_TMPDIR, and everything started from there inherits them.
 */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
}

const hasProc = existsSync('/proc/self/stat');

function readStat(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (hasProc) {
    const entry = readStat(pid);
    return entry !== undefined && entry.state !== 'Z' && entry.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is alive and its command line contains `marker` (guards against a reused pid). */
export function isAliveWith(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false;
  if (!hasProc) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

function allProcesses(): ProcessEntry[] {
  if (!hasProc) return [];
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readStat(Number(entry)))
    .filter((entry): entry is ProcessEntry => entry !== undefined && entry.state !== 'Z');
}

function environmentHas(pid: number, markers: string[]): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return markers.some((marker) => environ.includes(marker));
  } catch {
    return false; // another user's process, or gone
  }
}

/**
 * Every process of an instance: its sshd and the sshd's descendants, every process whose environment
 * carries one of `envMarkers` (the tmux server and what runs in it, detached jobs), and every member
 * of those processes' groups (a training job that cleared its environment stays in its group).
 * Never this process or its own group.
 */
export function instanceProcesses(rootPid: number | undefined, envMarkers: string[]): ProcessEntry[] {
  const processes = allProcesses();
  const self = readStat(process.pid);
  const chosen = new Map<number, ProcessEntry>();
  for (const entry of processes) {
    if (entry.pid === rootPid || environmentHas(entry.pid, envMarkers)) chosen.set(entry.pid, entry);
  }
  // Descendants, then group members, until nothing new is found.
  let grew = true;
  while (grew) {
    grew = false;
    const groups = new Set([...chosen.values()].map((entry) => entry.pgid));
    for (const entry of processes) {
      if (chosen.has(entry.pid)) continue;
      if (chosen.has(entry.ppid) || groups.has(entry.pgid)) {
        chosen.set(entry.pid, entry);
        grew = true;
      }
    }
  }
  return [...chosen.values()].filter(
    (entry) => entry.pid !== process.pid && entry.pid > 1 && (self === undefined || entry.pgid !== self.pgid),
  );
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Ends the given processes the way a VM shutdown does: SIGTERM, a grace period, then SIGKILL.
 * Resolves when none of them is alive any more.
 */
export async function terminate(processes: ProcessEntry[], graceMs = 3000): Promise<void> {
  for (const entry of processes) signal(entry.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let alive = processes.filter((entry) => isAlive(entry.pid));
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter((entry) => isAlive(entry.pid));
  }
  for (const entry of alive) signal(entry.pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (alive.length > 0 && Date.now() < killDeadline) {
    await sleep(20);
    alive = alive.filter((entry) => isAlive(entry.pid));
  }
}

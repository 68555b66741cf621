import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmErrorType, vmFailure } from './errors';
import { isAlive } from './local-processes';

/**
 * `instance.json`: the whole truth about a local instance, so any process (a new worker after a
 * crash) can find, inspect and stop an instance another process started.
 */
export interface LocalInstanceRecord {
  name: string;
  machineImage: string;
  persistent: boolean;
  labels: Record<string, string>;
  machineType?: string;
  accelerator?: { type: string; count: number };
  createdAt: string;
  /** What the instance should be doing: RUNNING until `stop`; a dead sshd while RUNNING means it crashed. */
  state: 'RUNNING' | 'STOPPED';
  /** The running sshd, while the instance runs. */
  sshd?: { pid: number; port: number };
  /** Port of the last boot, reused when free so SSH coordinates rarely change. */
  lastPort?: number;
  boots: number;
  /** The boot whose entrypoint finished; less than `boots` means it must run again. */
  entrypointBoot: number;
}

export const recordFile = (dir: string): string => join(dir, 'instance.json');

export function readRecord(dir: string): LocalInstanceRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(dir), 'utf8')) as LocalInstanceRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a record. */
export function writeRecord(dir: string, record: LocalInstanceRecord): void {
  const tmp = `${recordFile(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, recordFile(dir));
}

/** True while a lock file exists and its holder is alive (a just-created, still empty lock counts as held). */
export function lockHeld(lockFile: string): boolean {
  try {
    const content = readFileSync(lockFile, 'utf8');
    if (content === '') return Date.now() - statSync(lockFile).mtimeMs < 10_000;
    return isAlive(Number(content));
  } catch {
    return false;
  }
}

/**
 * Runs `fn` holding an exclusive lock file that records our pid. Activities of different workers (and
 * concurrent attempts in one worker) serialize on it; a lock left by a crashed process is taken over.
 * The lock lives outside the instance folder so `delete` can remove the folder while holding it.
 */
export async function withLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!lockHeld(lockFile) && existsSync(lockFile)) {
        // The holder died: remove its lock, then race for it like everyone else.
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw vmFailure(
          VmErrorType.VM_BUSY,
          `instance lock ${lockFile} held by another process for too long`,
        );
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

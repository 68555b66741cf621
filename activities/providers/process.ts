import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A background server of the local stack, with its log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the exit code when the process ends by itself or is stopped. */
  readonly exited: Promise<number | null>;
}

export class StackError extends Error {
  override readonly name: string = 'StackError';
}

/** The server exited before it was ready (a port taken between choosing and binding it, a crash). */
export class ExitedBeforeReady extends StackError {
  override readonly name = 'ExitedBeforeReady';
}

/** The last `lines` lines of a log file, or '' when it cannot be read. */
export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs `start` up to `attempts` times while it fails with {@link ExitedBeforeReady}: a port chosen by
 * {@link freePort} can be taken by another process before the server binds it. Callers that were given
 * fixed ports pass `attempts: 1`.
 */
export async function retryOnEarlyExit<T>(attempts: number, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof ExitedBeforeReady) || attempt >= attempts) throw error;
    }
  }
}

/** Asks the kernel for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new StackError('no port')),
      );
    });
  });
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Detached processes outlive this Node process (the demo's stack); attached ones die with it. */
  detached?: boolean;
}

/**
 * Starts a server with stdout and stderr appended to its log file. The file descriptor is handed to
 * the child (no pipe through this process), so a detached server keeps logging after we exit.
 */
export function startProcess(options: StartOptions): ManagedProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', log, log],
      detached: options.detached ?? false,
    });
  } finally {
    closeSync(log);
  }
  if (options.detached) child.unref();
  if (child.pid === undefined) {
    throw new StackError(`${options.name} could not be started (${options.command}); see ${options.logFile}`);
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const pid = child.pid;
  return {
    name: options.name,
    pid,
    logFile: options.logFile,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const outcome = await Promise.race([
        exited.then(() => 'exited' as const),
        sleep(graceMs).then(() => 'timeout' as const),
      ]);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Polls `probe` until it resolves true. Fails with an error naming the piece when the process exits
 * first or the timeout passes, pointing at its log.
 */
export async function waitUntilReady(
  proc: Pick<ManagedProcess, 'name' | 'logFile' | 'exited'> | undefined,
  name: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc?.exited.then((code) => (exitCode = code));
  let lastError = '';
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      const tail = proc ? logTail(proc.logFile) : '';
      throw new ExitedBeforeReady(
        `${name} exited (code ${exitCode}) before it was ready; see ${proc?.logFile}` +
          (tail ? `\nlast lines of its log:\n${tail}` : ''),
      );
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  const where = proc ? `; see ${proc.logFile}` : '';
  throw new StackError(
    `${name} did not come up within ${timeoutMs / 1000}s${lastError ? ` (${lastError})` : ''}${where}`,
  );
}

// Worker processes of the chaos run: the production entry point (workers/main.ts), one OS process
// each, so a SIGKILL is a machine dying. The SDK names a worker `<pid>@<host>` in history.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { projectRoot } from '../../activities/providers/paths';

export interface WorkerProcess {
  readonly pid: number;
  /** How the worker appears in histories (`identity` of task events). */
  readonly identity: string;
  /** Resolves once the worker polls its queues. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  /** SIGKILL: no shutdown, no drain; resolves when the process is gone. */
  kill(): Promise<void>;
  /** True once it polls and while it lives. */
  isReady(): boolean;
  /** SIGTERM: the SDK drains in-flight tasks; resolves when the process is gone. */
  stop(): Promise<void>;
  alive(): boolean;
}

/** Starts `workers/main.ts` with the given environment; its output goes to `logFile`. */
export function startWorkerProcess(env: NodeJS.ProcessEnv, logFile: string): WorkerProcess {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'workers/main.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      log.end();
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    const watch = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(' polling ')) {
        child.stdout.off('data', watch);
        resolve();
      }
    };
    child.stdout.on('data', watch);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before polling; see ${logFile}`)));
  });
  let polling = false;
  ready.then(
    () => (polling = true),
    () => undefined,
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const end = async (signal: NodeJS.Signals) => {
    if (alive()) child.kill(signal);
    // A worker that does not drain within 30 s is killed: the chaos run must end.
    const timer = setTimeout(() => alive() && child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    pid: child.pid!,
    identity: `${child.pid}@${hostname()}`,
    ready,
    exited,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    alive,
    isReady: () => polling && alive(),
  };
}

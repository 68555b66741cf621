import {
  freePort,
  retryOnEarlyExit,
  startProcess,
  waitUntilReady,
  type ManagedProcess,
} from '../../activities/providers/process';
import { projectRoot, venvBin } from '../../activities/providers/paths';
import { resolve } from 'node:path';

export interface BigQueryEmulator {
  /** Base URL for `new BigQuery({ apiEndpoint })`. */
  readonly apiEndpoint: string;
  readonly projectId: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface BigQueryEmulatorOptions {
  projectId: string;
  logFile: string;
  restPort?: number;
  grpcPort?: number;
  /** Folder for a file-backed (persistent) warehouse; in memory when omitted. */
  dataDir?: string;
  detached?: boolean;
  readyTimeoutMs?: number;
}

/**
 * Starts `bqemulator` (PyPI; DuckDB + SQLGlot) on free loopback ports. HOME points at the DuckDB home
 * that setup filled with the spatial extension, so its start-up `INSTALL spatial` never downloads.
 */
export async function startBigQueryEmulator(options: BigQueryEmulatorOptions): Promise<BigQueryEmulator> {
  const fixedPorts = options.restPort !== undefined || options.grpcPort !== undefined;
  return await retryOnEarlyExit(fixedPorts ? 1 : 3, () => startOnce(options));
}

async function startOnce(options: BigQueryEmulatorOptions): Promise<BigQueryEmulator> {
  const restPort = options.restPort ?? (await freePort());
  const grpcPort = options.grpcPort ?? (await freePort());
  const args = [
    'start',
    '--rest-port',
    String(restPort),
    '--grpc-port',
    String(grpcPort),
    '--project',
    options.projectId,
  ];
  args.push(...(options.dataDir ? ['--persistent', '--data-dir', options.dataDir] : ['--ephemeral']));
  args.push('--log-level', 'warning');
  const proc = startProcess({
    name: 'BigQuery emulator',
    command: venvBin('bqemulator'),
    args,
    logFile: options.logFile,
    detached: options.detached,
    env: {
      HOME: resolve(projectRoot, '.venv', 'duckdb-home'),
      BQEMU_ENABLE_FORMAT_EXTENSIONS: 'false',
      BQEMU_TIME_TRAVEL_RETENTION_DAYS: '0',
    },
  });
  const apiEndpoint = `http://127.0.0.1:${restPort}`;
  try {
    await waitUntilReady(
      proc,
      `BigQuery emulator (${apiEndpoint})`,
      async () => (await fetch(`${apiEndpoint}/readyz`)).ok,
      options.readyTimeoutMs ?? 60_000,
    );
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { apiEndpoint, projectId: options.projectId, process: proc, stop: () => proc.stop() };
}

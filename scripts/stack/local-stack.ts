import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { startBigQueryEmulator } from './bigquery-emulator';
import { resolve } from 'node:path';
import { LocalVmProvider } from '../../activities/providers/local';
import { dataDir, projectRoot } from '../../activities/providers/paths';
import { freePort, StackError } from '../../activities/providers/process';
import { commandLine, listenerPid, terminate } from './live-processes';
import { startTemporalDevServer, temporalIsServing } from './temporal';

/** What `npm run stack -- start` left running, recorded in .data/stack.json for later commands. */
export interface StackState {
  temporal: { pid: number; address: string; uiUrl: string; dbFile: string };
  bigquery: { pid: number; apiEndpoint: string; projectId: string };
  logs: string;
}

const stateFile = (): string => dataDir('stack.json');

export function readStackState(): StackState | undefined {
  if (!existsSync(stateFile())) return undefined;
  return JSON.parse(readFileSync(stateFile(), 'utf8')) as StackState;
}

/** A port: the preferred one when it is free, otherwise any free loopback port. */
async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? preferred : await freePort();
}

/** A preferred port from the environment (`STACK_TEMPORAL_PORT`…), else the usual one. */
function preferredPort(variable: string, usual: number): number {
  const value = process.env[variable];
  if (value === undefined || value === '') return usual;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError(`${variable} must be a TCP port (1-65535), not ${JSON.stringify(value)}`);
  }
  return port;
}

const portOf = (address: string): number =>
  Number(new URL(address.includes('://') ? address : `http://${address}`).port);

/** How each server is recognised on its port, so stop never ends a process that merely reuses a pid or port. */
const programs = {
  temporal: (cmdline: string) => cmdline.includes('temporal') && cmdline.includes('start-dev'),
  bigquery: (cmdline: string) => cmdline.includes('bqemulator'),
};

/**
 * The processes of one server: whoever listens on its port now (if it runs the expected program)
 * and the recorded pid if it still runs that program (e.g. a server still starting, not listening yet).
 */
function servicePids(service: keyof typeof programs, port: number, recorded: number): number[] {
  const isProgram = (pid: number | undefined): pid is number => {
    const cmdline = pid === undefined ? undefined : commandLine(pid);
    return cmdline !== undefined && programs[service](cmdline);
  };
  const listener = listenerPid(port);
  return [...new Set([listener, recorded].filter(isProgram))];
}

export interface ServiceStatus {
  address: string;
  /** True when it answers a real request (Temporal: an RPC; the emulator: /readyz). */
  serving: boolean;
  /** The live process serving it, found by its port. */
  pid?: number;
}

export interface StackStatus {
  state?: StackState;
  temporal?: ServiceStatus;
  bigquery?: ServiceStatus;
  /** Both servers answer. */
  running: boolean;
}

async function answers(probe: () => Promise<boolean>): Promise<boolean> {
  try {
    return await probe();
  } catch {
    return false;
  }
}

/**
 * The stack as it is now: each server probed at its address and its live process found by its port.
 * When the servers answer under other pids than recorded (one was restarted), .data/stack.json is
 * brought up to date, so later commands follow the live processes.
 */
export async function stackStatus(): Promise<StackStatus> {
  const state = readStackState();
  if (!state) return { running: false };
  const [temporalServing, bigqueryServing] = await Promise.all([
    answers(() => temporalIsServing(state.temporal.address)),
    answers(
      async () =>
        (await fetch(`${state.bigquery.apiEndpoint}/readyz`, { signal: AbortSignal.timeout(3000) })).ok,
    ),
  ]);
  const temporalPid = servicePids('temporal', portOf(state.temporal.address), state.temporal.pid)[0];
  const bigqueryPid = servicePids('bigquery', portOf(state.bigquery.apiEndpoint), state.bigquery.pid)[0];
  const running = temporalServing && bigqueryServing;
  const moved =
    (temporalPid !== undefined && temporalPid !== state.temporal.pid) ||
    (bigqueryPid !== undefined && bigqueryPid !== state.bigquery.pid);
  const current: StackState = {
    ...state,
    temporal: { ...state.temporal, pid: temporalPid ?? state.temporal.pid },
    bigquery: { ...state.bigquery, pid: bigqueryPid ?? state.bigquery.pid },
  };
  if (moved) writeState(current);
  return {
    state: current,
    temporal: { address: state.temporal.address, serving: temporalServing, pid: temporalPid },
    bigquery: { address: state.bigquery.apiEndpoint, serving: bigqueryServing, pid: bigqueryPid },
    running,
  };
}

/** Returns the running stack if both of its servers answer (whatever their pids now are). */
export async function runningStack(): Promise<StackState | undefined> {
  const status = await stackStatus();
  return status.running ? status.state : undefined;
}

function writeState(state: StackState): void {
  writeFileSync(stateFile(), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Starts the local stack detached (it outlives this command): Temporal dev server with its Web UI and
 * SQLite file, and the BigQuery emulator (file-backed). Local VMs are not part of it: the worker's
 * `local` provider creates them on demand under .data/vms/. Prefers the usual ports (7233, 8233,
 * 9050) and falls back to free ones, so it never clashes with anything else.
 */
export async function startLocalStack(): Promise<StackState> {
  const existing = await runningStack();
  if (existing) return existing;
  await stopLocalStack(); // leftovers of a half-dead stack
  const logs = dataDir('logs');
  mkdirSync(logs, { recursive: true });
  const dbFile = dataDir('temporal.db');
  const projectId = process.env.BIGQUERY_PROJECT ?? 'retrainer-local';
  const [temporal, bigquery] = await Promise.all([
    startTemporalDevServer({
      dbFile,
      port: await portOr(preferredPort('STACK_TEMPORAL_PORT', 7233)),
      uiPort: await portOr(preferredPort('STACK_TEMPORAL_UI_PORT', 8233)),
      logFile: `${logs}/temporal.log`,
      detached: true,
    }),
    startBigQueryEmulator({
      projectId,
      restPort: await portOr(preferredPort('STACK_BIGQUERY_PORT', 9050)),
      dataDir: dataDir('warehouse'),
      logFile: `${logs}/bqemulator.log`,
      detached: true,
    }),
  ]);
  const state: StackState = {
    temporal: { pid: temporal.process.pid, address: temporal.address, uiUrl: temporal.uiUrl ?? '', dbFile },
    bigquery: { pid: bigquery.process.pid, apiEndpoint: bigquery.apiEndpoint, projectId },
    logs,
  };
  writeState(state);
  return state;
}

/** Stops the local VMs the worker's `local` provider left running under .data/vms/ (sshd, tmux, jobs). */
async function stopLocalVms(): Promise<string[]> {
  const provider = new LocalVmProvider({
    root: dataDir('vms'),
    imagesDir: resolve(projectRoot, 'machine-images'),
  });
  const stopped: string[] = [];
  for (const vm of await provider.list()) {
    if (vm.status !== 'RUNNING') continue;
    await provider.stop(vm.name);
    stopped.push(vm.name);
  }
  return stopped;
}

async function stopTemporal(state: StackState): Promise<void> {
  for (const pid of servicePids('temporal', portOf(state.temporal.address), state.temporal.pid)) {
    await terminate(pid);
  }
}

/**
 * Stops the stack's servers, found by their ports (a restarted server included), and keeps the data
 * (Temporal's SQLite file, the warehouse). Local VMs, trainings on them included, are left alone
 * unless `vms` is set: their runs live in Temporal and resume when it is back.
 */
export async function stopLocalStack(options: { vms?: boolean } = {}): Promise<{ vms: string[] }> {
  const vms = options.vms ? await stopLocalVms() : [];
  const state = readStackState();
  if (!state) return { vms };
  await Promise.all([
    stopTemporal(state),
    ...servicePids('bigquery', portOf(state.bigquery.apiEndpoint), state.bigquery.pid).map((pid) =>
      terminate(pid),
    ),
  ]);
  rmSync(stateFile(), { force: true });
  return { vms };
}

/**
 * Restarts only the Temporal dev server on the same port, Web UI port and SQLite file (runs, schedules
 * and histories survive); workers and clients reconnect by themselves.
 */
export async function restartTemporal(): Promise<StackState> {
  const state = assertStack(readStackState());
  await stopTemporal(state);
  const uiPort = state.temporal.uiUrl ? Number(new URL(state.temporal.uiUrl).port) : undefined;
  const temporal = await startTemporalDevServer({
    dbFile: state.temporal.dbFile,
    port: portOf(state.temporal.address),
    uiPort,
    headless: uiPort === undefined,
    logFile: `${state.logs}/temporal.log`,
    detached: true,
  });
  const next: StackState = { ...state, temporal: { ...state.temporal, pid: temporal.process.pid } };
  writeState(next);
  return next;
}

/** Stops everything and deletes the local state: Temporal history, warehouse, registry, VMs, logs. */
export async function resetLocalStack(): Promise<void> {
  await stopLocalStack({ vms: true });
  rmSync(dataDir(), { recursive: true, force: true });
}

export function describeStack(state: StackState): string {
  return [
    `Temporal      ${state.temporal.address}  (SQLite ${state.temporal.dbFile})`,
    `Web UI        ${state.temporal.uiUrl}`,
    `BigQuery      ${state.bigquery.apiEndpoint}  (emulator, project ${state.bigquery.projectId})`,
    `logs          ${state.logs}`,
  ].join('\n');
}

export function assertStack(state: StackState | undefined): StackState {
  if (!state) throw new StackError('the local stack is not running: npm run stack -- start');
  return state;
}

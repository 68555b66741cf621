import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBigQueryEmulator } from './bigquery-emulator';
import { resolve } from 'node:path';
import { LocalVmProvider } from '../../activities/providers/local';
import { dataDir, projectRoot } from '../../activities/providers/paths';
import { freePort, StackError } from '../../activities/providers/process';
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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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

/** Returns the running stack if .data/stack.json names live, answering processes. */
export async function runningStack(): Promise<StackState | undefined> {
  const state = readStackState();
  if (!state) return undefined;
  const pids = [state.temporal.pid, state.bigquery.pid];
  if (!pids.every(alive)) return undefined;
  try {
    return (await temporalIsServing(state.temporal.address)) ? state : undefined;
  } catch {
    return undefined;
  }
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
      port: await portOr(7233),
      uiPort: await portOr(8233),
      logFile: `${logs}/temporal.log`,
      detached: true,
    }),
    startBigQueryEmulator({
      projectId,
      restPort: await portOr(9050),
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
  writeFileSync(stateFile(), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

async function terminate(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops the local VMs the worker's `local` provider left running under .data/vms/ (sshd, tmux, jobs). */
async function stopLocalVms(): Promise<void> {
  const provider = new LocalVmProvider({
    root: dataDir('vms'),
    imagesDir: resolve(projectRoot, 'machine-images'),
  });
  for (const vm of await provider.list()) if (vm.status === 'RUNNING') await provider.stop(vm.name);
}

/** Stops what .data/stack.json names and every local VM; keeps the data (Temporal's SQLite file, the warehouse). */
export async function stopLocalStack(): Promise<void> {
  await stopLocalVms();
  const state = readStackState();
  if (!state) return;
  await Promise.all([terminate(state.temporal.pid), terminate(state.bigquery.pid)]);
  rmSync(stateFile(), { force: true });
}

/** Stops everything and deletes the local state: Temporal history, warehouse, registry, VMs, logs. */
export async function resetLocalStack(): Promise<void> {
  await stopLocalStack();
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

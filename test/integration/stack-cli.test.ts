import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { freePort } from '../../activities/providers/process';
import { alive, terminate } from '../../scripts/stack/live-processes';
import type { StackState } from '../../scripts/stack/local-stack';
import { startTemporalDevServer, type TemporalDevServer } from '../../scripts/stack/temporal';
import { testLogFile, testTempDir } from '../harness/paths';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('npm run stack (the local stack CLI)', () => {
  const dir = testTempDir('stack-cli');
  const provider = new LocalVmProvider({
    root: join(dir, 'vms'),
    imagesDir: resolve(projectRoot, 'machine-images'),
  });
  let env: NodeJS.ProcessEnv;
  let restarted: TemporalDevServer | undefined;
  const bystanders: number[] = [];

  beforeAll(async () => {
    env = {
      ...process.env,
      DATA_DIR: dir,
      STACK_TEMPORAL_PORT: String(await freePort()),
      STACK_TEMPORAL_UI_PORT: String(await freePort()),
      STACK_BIGQUERY_PORT: String(await freePort()),
    };
  });
  afterAll(async () => {
    await stack('stop', '--vms');
    await restarted?.stop();
    for (const pid of bystanders) await terminate(pid);
  });

  /** Runs the CLI as `npm run stack -- …` does (without the setup step), in the suite's DATA_DIR. */
  const stack = (...args: string[]) =>
    new Promise<CliResult>((resolveRun) => {
      execFile(
        process.execPath,
        ['-r', '@swc-node/register', 'scripts/stack-cli.ts', ...args],
        { cwd: projectRoot, env, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolveRun({ code: error ? ((error.code as number | undefined) ?? 1) : 0, stdout, stderr }),
      );
    });
  const state = () => JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackState;
  const pidIn = (out: string, service: string) =>
    Number(new RegExp(`${service}\\s+\\S+\\s+running \\(pid (\\d+)\\)`).exec(out)?.[1]);

  it('follows the live servers: after Temporal alone restarts, status says running with the new pid; stop leaves VMs alone unless --vms', async () => {
    const started = await stack('start');
    expect(started.code, started.stderr).toBe(0);
    const first = state();
    expect(first.temporal.address).toBe(`127.0.0.1:${env.STACK_TEMPORAL_PORT}`);
    const before = await stack('status');
    expect(before.stdout).toMatch(/^running:/);
    expect(pidIn(before.stdout, 'Temporal')).toBe(first.temporal.pid);
    expect(pidIn(before.stdout, 'BigQuery')).toBe(first.bigquery.pid);

    // A training's VM, running while the stack is restarted and stopped.
    const vm = await provider.provision({ name: 'stack-cli-vm', machineImage: 'cpu-python-template-prod' });
    expect(vm.status).toBe('RUNNING');

    // Only Temporal restarts, outside the CLI: stack.json still names the old pid.
    await terminate(first.temporal.pid);
    restarted = await startTemporalDevServer({
      dbFile: first.temporal.dbFile,
      port: Number(env.STACK_TEMPORAL_PORT),
      headless: true,
      logFile: testLogFile('stack-cli-temporal.log'),
      detached: true,
    });
    const after = await stack('status');
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^running:/);
    expect(pidIn(after.stdout, 'Temporal')).toBe(restarted.process.pid);
    expect(state().temporal.pid).toBe(restarted.process.pid);

    // The CLI's own restart keeps the port and the SQLite file.
    const again = await stack('restart', 'temporal');
    expect(again.code, again.stderr).toBe(0);
    const third = state().temporal.pid;
    expect(third).not.toBe(restarted.process.pid);
    expect(alive(restarted.process.pid)).toBe(false);
    expect(pidIn((await stack('status')).stdout, 'Temporal')).toBe(third);

    const stopped = await stack('stop');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('local VMs left as they are');
    expect(alive(third)).toBe(false);
    expect(alive(first.bigquery.pid)).toBe(false);
    expect((await provider.status(vm.name)).status).toBe('RUNNING');
    expect((await stack('status')).stdout.trim()).toBe('not running');

    const withVms = await stack('stop', '--vms');
    expect(withVms.code, withVms.stderr).toBe(0);
    expect(withVms.stdout).toContain(`local VMs stopped: ${vm.name}`);
    expect((await provider.status(vm.name)).status).toBe('STOPPED');
    // Nine CLI processes (each compiles its TypeScript on start) and four server starts: ~60 s under load.
  }, 240_000);

  it('never stops a process that merely has a pid recorded in a stale stack.json', async () => {
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
    bystanders.push(bystander.pid!);
    const stale: StackState = {
      temporal: {
        pid: bystander.pid!,
        address: `127.0.0.1:${await freePort()}`,
        uiUrl: '',
        dbFile: join(dir, 'temporal.db'),
      },
      bigquery: { pid: bystander.pid!, apiEndpoint: `http://127.0.0.1:${await freePort()}`, projectId: 'p' },
      logs: join(dir, 'logs'),
    };
    writeFileSync(join(dir, 'stack.json'), JSON.stringify(stale));
    const status = await stack('status');
    expect(status.stdout).toMatch(/^not running \(partly\):/);
    expect(status.stdout).toContain('NOT ANSWERING');
    expect((await stack('stop')).code).toBe(0);
    expect(alive(bystander.pid!)).toBe(true);
  });

  it('rejects unknown commands and arguments with the usage and exit code 2', async () => {
    for (const args of [['stop', '--force'], ['restart', 'bigquery'], ['--vms'], ['status', '-rf']]) {
      const result = await stack(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('usage: npm run stack --');
    }
  });
});

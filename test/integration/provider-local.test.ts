import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmErrorType } from '../../activities/providers/errors';
import { LocalVmProvider } from '../../activities/providers/local';
import { instanceProcesses, isAlive } from '../../activities/providers/local-processes';
import { readRecord } from '../../activities/providers/local-instance';
import { SshSession, shellQuote } from '../../activities/remote/ssh';
import { projectRoot } from '../../activities/providers/paths';
import { publicKeyBlob, tmuxDirOf } from '../../activities/providers/sshd';
import { testTempDir } from '../harness/paths';
import { failureOf } from '../harness/failures';

const imagesDir = resolve(projectRoot, 'machine-images');
const CPU = 'cpu-python-template-prod';

/** Runs a remote command until it succeeds (the remote side sleeps between tries, never the test). */
async function waitRemote(session: SshSession, command: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const result = await session.exec(command);
    if (result.code === 0) return result.stdout;
    await session.run('sleep 0.1');
  }
  throw new Error(`never succeeded: ${command}`);
}

describe('local VM provider (folder + detached sshd + tmux)', () => {
  let root: string;
  let provider: LocalVmProvider;
  const markers = (name: string) => [
    `TMUX_TMPDIR=${tmuxDirOf(join(root, name))}`,
    `HOME=${join(root, name, 'home')}`,
  ];

  beforeAll(() => {
    root = join(testTempDir('provider-local'), 'vms');
    provider = new LocalVmProvider({ root, imagesDir });
  });

  afterAll(async () => {
    if (!provider) return;
    const vms = await provider.list();
    for (const vm of vms) await provider.stop(vm.name);
    // Nothing of any instance may outlive the suite: no sshd, no tmux server, no job.
    expect(vms.flatMap((vm) => instanceProcesses(undefined, markers(vm.name)))).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it('creates an instance from the CPU image: sshd reachable with the pinned host key, entrypoint ran', async () => {
    const info = await provider.provision({
      name: 'cpu-one',
      machineImage: CPU,
      labels: { run_id: 'r1', step: 'train' },
    });
    expect(info).toEqual({
      name: 'cpu-one',
      status: 'RUNNING',
      labels: { run_id: 'r1', step: 'train' },
      persistent: false,
    });
    const target = await provider.sshTarget('cpu-one');
    expect(target.hostKey).toBe(publicKeyBlob(join(root, 'cpu-one', 'host_ed25519_key.pub')));
    const session = await SshSession.connect(target);
    try {
      expect(await session.run('cat "$HOME/.boot.log"')).toMatch(/^\S+ cpu-python-template-prod pid=\d+\n$/);
      expect((await session.exec('test -d "$HOME/runs" && test -x "$HOME/download_scripts.sh"')).code).toBe(
        0,
      );
      expect((await session.exec('test -e "$HOME/image.json"')).code).not.toBe(0);
    } finally {
      session.close();
    }
    // Provisioning again (a retried activity) changes nothing: no second boot.
    await provider.provision({ name: 'cpu-one', machineImage: CPU });
    expect(readRecord(join(root, 'cpu-one'))?.boots).toBe(1);
  });

  it('stop ends the tmux job and every process it started; start again is reachable with the same host key', async () => {
    await provider.provision({ name: 'cpu-stop', machineImage: CPU });
    const before = await provider.sshTarget('cpu-stop');
    const session = await SshSession.connect(before);
    // A job with a plain child, a child in a new session, and one with its environment cleared.
    const job = [
      'sleep 300 & echo $! > $HOME/plain.pid',
      'setsid sleep 301 & echo $! > $HOME/setsid.pid',
      'env -i /bin/sleep 302 & echo $! > $HOME/noenv.pid',
      'wait',
    ].join('; ');
    let pids: number[];
    try {
      await session.run(
        `tmux new-session -d -s train-x ${shellQuote(`bash -c ${shellQuote(job)} < /dev/null`)}`,
      );
      const out = await waitRemote(session, 'cat $HOME/plain.pid $HOME/setsid.pid $HOME/noenv.pid');
      pids = out.trim().split(/\s+/).map(Number);
      expect(pids).toHaveLength(3);
      expect(pids.every(isAlive)).toBe(true);
    } finally {
      session.close();
    }

    await provider.stop('cpu-stop');
    expect((await provider.status('cpu-stop')).status).toBe('STOPPED');
    expect(pids.filter(isAlive)).toEqual([]);
    expect(instanceProcesses(undefined, markers('cpu-stop'))).toEqual([]);
    const notRunning = await failureOf(provider.sshTarget('cpu-stop'));
    expect(notRunning.type).toBe(VmErrorType.VM_NOT_RUNNING);
    await provider.stop('cpu-stop'); // idempotent

    expect((await provider.start('cpu-stop')).status).toBe('RUNNING');
    const after = await provider.sshTarget('cpu-stop');
    expect(after.hostKey).toBe(before.hostKey);
    const again = await SshSession.connect(after);
    try {
      expect((await again.exec('tmux has-session -t train-x')).code).not.toBe(0);
      expect((await again.run('cat $HOME/.boot.log')).trim().split('\n')).toHaveLength(2);
    } finally {
      again.close();
    }
  });

  it('outlives the process that provisioned it, which a new provider finds, stops and restarts from the folder', async () => {
    const cli = resolve(__dirname, 'fixtures', 'local-vm-cli.ts');
    // Another process provisions and is killed (SIGKILL), as a worker that crashes right after provisioning.
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', cli, 'provision-then-crash', root, imagesDir, 'cpu-orphan', CPU],
      { encoding: 'utf8' },
    );
    expect(child.signal).toBe('SIGKILL');
    expect(JSON.parse(child.stdout)).toMatchObject({ name: 'cpu-orphan', status: 'RUNNING' });

    const fresh = new LocalVmProvider({ root, imagesDir });
    expect((await fresh.status('cpu-orphan')).status).toBe('RUNNING');
    const session = await SshSession.connect(await fresh.sshTarget('cpu-orphan'));
    expect((await session.run('echo alive')).trim()).toBe('alive');
    session.close();

    await fresh.stop('cpu-orphan');
    expect((await provider.status('cpu-orphan')).status).toBe('STOPPED');
    expect(instanceProcesses(undefined, markers('cpu-orphan'))).toEqual([]);
    expect((await fresh.start('cpu-orphan')).status).toBe('RUNNING');
  });

  it('takes over the lock of a process that died holding it', async () => {
    const dead = spawnSync('true').pid ?? 0;
    expect(isAlive(dead)).toBe(false);
    mkdirSync(join(root, '.locks'), { recursive: true });
    writeFileSync(join(root, '.locks', 'cpu-locked.lock'), String(dead));
    expect((await provider.provision({ name: 'cpu-locked', machineImage: CPU })).status).toBe('RUNNING');
    expect(existsSync(join(root, '.locks', 'cpu-locked.lock'))).toBe(false);
  });

  it('reports an instance whose sshd died without a stop as TERMINATED, like a preempted VM', async () => {
    await provider.provision({ name: 'cpu-crash', machineImage: CPU });
    const pid = readRecord(join(root, 'cpu-crash'))?.sshd?.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => isAlive(pid)).toBe(false);
    expect((await provider.status('cpu-crash')).status).toBe('TERMINATED');
    expect((await provider.start('cpu-crash')).status).toBe('RUNNING');
  });

  it('creates a persistent instance once, then only starts and stops it; delete only stops it', async () => {
    const spec = { name: 'quality-nb', machineImage: 'tensorflow-template-prod', persistent: true };
    expect((await provider.provision(spec)).persistent).toBe(true);
    const dir = join(root, 'quality-nb');
    const createdAt = readRecord(dir)?.createdAt;
    writeFileSync(join(dir, 'home', 'notebook-state.txt'), 'kept');
    await provider.stop('quality-nb');
    await provider.provision(spec);
    expect(readRecord(dir)).toMatchObject({ createdAt, boots: 2, persistent: true });
    await provider.delete('quality-nb');
    expect((await provider.status('quality-nb')).status).toBe('STOPPED');
    expect(readFileSync(join(dir, 'home', 'notebook-state.txt'), 'utf8')).toBe('kept');
    expect(instanceProcesses(undefined, markers('quality-nb'))).toEqual([]);
  });

  it('gives a reused persistent instance the labels of the run using it now, keeping other labels', async () => {
    const spec = { name: 'quality-lab', machineImage: CPU, persistent: true };
    await provider.provision({ ...spec, labels: { run_id: 'old-run', team: 'quality' } });
    await provider.stop('quality-lab');
    await provider.provision({ ...spec, labels: { run_id: 'new-run', step: 'train' } });
    expect((await provider.list({ run_id: 'new-run' })).map((vm) => vm.name)).toEqual(['quality-lab']);
    expect(await provider.list({ run_id: 'old-run' })).toEqual([]);
    expect((await provider.status('quality-lab')).labels).toEqual({
      run_id: 'new-run',
      step: 'train',
      team: 'quality',
    });
    await provider.delete('quality-lab');
  });

  it('delete stops the instance and removes its folder; deleting again is a no-op', async () => {
    await provider.provision({ name: 'cpu-gone', machineImage: CPU, labels: { run_id: 'r2' } });
    await provider.delete('cpu-gone');
    expect(existsSync(join(root, 'cpu-gone'))).toBe(false);
    expect((await provider.status('cpu-gone')).status).toBe('NOT_FOUND');
    expect(instanceProcesses(undefined, markers('cpu-gone'))).toEqual([]);
    await provider.delete('cpu-gone');
    const missing = await failureOf(provider.start('cpu-gone'));
    expect(missing.type).toBe(VmErrorType.VM_NOT_FOUND);
  });

  it("lists instances carrying all the given labels, also through the operators' CLI", async () => {
    expect((await provider.list({ run_id: 'r1' })).map((vm) => vm.name)).toEqual(['cpu-one']);
    expect((await provider.list({ run_id: 'r1', step: 'other' })).map((vm) => vm.name)).toEqual([]);
    expect((await provider.list()).map((vm) => vm.name)).toContain('quality-nb');
    // The operators' CLI (`npm run vms -- list run_id=r1`) answers from the same folders.
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', resolve(projectRoot, 'scripts', 'vms.ts'), 'list', 'run_id=r1'],
      { encoding: 'utf8', env: { ...process.env, VM_PROVIDER: 'local', LOCAL_VM_ROOT: root } },
    );
    expect(cli.stderr).toBe('');
    expect(
      cli.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { name: 'cpu-one', status: 'RUNNING', labels: { run_id: 'r1', step: 'train' }, persistent: false },
    ]);
  });

  it('refuses an unknown machine image with a typed, non-retryable failure naming it', async () => {
    const failure = await failureOf(
      provider.provision({ name: 'cpu-bad', machineImage: 'gpu-template-typo' }),
    );
    expect(failure.type).toBe(VmErrorType.MACHINE_IMAGE_NOT_FOUND);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('gpu-template-typo');
    expect(failure.message).toContain(CPU); // lists what exists
    expect(existsSync(join(root, 'cpu-bad'))).toBe(false);
    const invalid = await failureOf(provider.provision({ name: 'Bad_Name', machineImage: CPU }));
    expect(invalid.type).toBe(VmErrorType.VM_INVALID_SPEC);
  });
});

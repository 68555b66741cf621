import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { removeRuntimeDir } from './runtime-dir';
import { killTmuxServer, publicKeyBlob, startLocalSshHost, tmuxDirOf } from './sshd';
import { SshSession, type SshTarget } from '../remote/ssh';
import { VmErrorType, vmFailure } from './errors';
import { loadLocalMachineImage } from './local-images';
import { readRecord, withLock, writeRecord, type LocalInstanceRecord } from './local-instance';
import { instanceProcesses, isAliveWith, terminate } from './local-processes';
import { assertLabels, assertVmName, hasLabels } from './naming';
import type { VmInfo, VmProvider, VmSpec, VmStatus } from './types';

export interface LocalVmProviderOptions {
  /** Folder holding one sub-folder per instance (`<DATA_DIR>/vms`). */
  root: string;
  /** Folder holding one sub-folder per machine image (`machine-images/`). */
  imagesDir: string;
  /** Upper bound for the image's entrypoint at boot. */
  entrypointTimeoutMs?: number;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

/**
 * The `local` provider: an instance is a folder `<root>/<name>/` (keys, `sshd_config`, `home/`,
 * `instance.json`; its tmux socket lives in a short runtime folder, see `tmuxDirOf`) plus its own sshd on a loopback port, started detached so that it
 * outlives the worker that started it, as a VM outlives its client. Everything is read back from the
 * folder and the live process table, so a new worker process can pick up where a crashed one left.
 */
export class LocalVmProvider implements VmProvider {
  readonly kind = 'local' as const;
  private readonly root: string;
  private readonly imagesDir: string;

  constructor(private readonly options: LocalVmProviderOptions) {
    this.root = resolve(options.root);
    this.imagesDir = resolve(options.imagesDir);
  }

  /** Folder of an instance (exposed for operators and tests: its `home/` is the VM's disk). */
  instanceDir(name: string): string {
    assertVmName(name);
    return join(this.root, name);
  }

  async provision(spec: VmSpec): Promise<VmInfo> {
    const dir = this.instanceDir(spec.name);
    assertLabels(spec.labels ?? {});
    return await this.locked(spec.name, async () => {
      let record = readRecord(dir);
      if (!record) {
        if (!spec.machineImage)
          throw vmFailure(
            VmErrorType.VM_NOT_FOUND,
            `instance ${spec.name} does not exist and the spec names no machine image to create it from`,
            { name: spec.name },
          );
        record = this.create(dir, spec, spec.machineImage);
      } else if (spec.labels && !hasLabels(record.labels, spec.labels)) {
        // Reused (the persistent instance): it carries the labels of the run using it now.
        record = { ...record, labels: { ...record.labels, ...spec.labels } };
        writeRecord(dir, record);
      }
      if (!this.sshdRunning(dir, record) || record.entrypointBoot < record.boots)
        record = await this.boot(dir, record);
      return this.info(dir, record);
    });
  }

  async start(name: string): Promise<VmInfo> {
    const dir = this.instanceDir(name);
    return await this.locked(name, async () => {
      let record = this.existing(dir, name);
      if (!this.sshdRunning(dir, record) || record.entrypointBoot < record.boots)
        record = await this.boot(dir, record);
      return this.info(dir, record);
    });
  }

  async stop(name: string): Promise<void> {
    const dir = this.instanceDir(name);
    await this.locked(name, async () => {
      const record = readRecord(dir);
      if (record) await this.halt(dir, record);
    });
  }

  async delete(name: string): Promise<void> {
    const dir = this.instanceDir(name);
    await this.locked(name, async () => {
      const record = readRecord(dir);
      if (record) await this.halt(dir, record);
      // A persistent instance keeps its disk: deleting it (e.g. by the reaper) only stops it.
      if (record?.persistent) return;
      rmSync(dir, { recursive: true, force: true });
    });
  }

  async status(name: string): Promise<VmInfo> {
    const dir = this.instanceDir(name);
    const record = readRecord(dir);
    if (!record) return { name, status: 'NOT_FOUND', labels: {} };
    return this.info(dir, record);
  }

  async list(labels: Record<string, string> = {}): Promise<VmInfo[]> {
    if (!existsSync(this.root)) return [];
    const infos: VmInfo[] = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const record = readRecord(join(this.root, entry.name));
      if (record && hasLabels(record.labels, labels))
        infos.push(this.info(join(this.root, entry.name), record));
    }
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  async sshTarget(name: string): Promise<SshTarget> {
    const dir = this.instanceDir(name);
    const record = this.existing(dir, name);
    if (!record.sshd || !this.sshdRunning(dir, record))
      throw vmFailure(VmErrorType.VM_NOT_RUNNING, `instance ${name} is not running`, { name });
    return {
      host: '127.0.0.1',
      port: record.sshd.port,
      username: userInfo().username,
      privateKey: readFileSync(join(dir, 'client_ed25519')),
      hostKey: publicKeyBlob(join(dir, 'host_ed25519_key.pub')),
    };
  }

  private locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.root, '.locks', `${name}.lock`), fn);
  }

  private existing(dir: string, name: string): LocalInstanceRecord {
    const record = readRecord(dir);
    if (!record)
      throw vmFailure(VmErrorType.VM_NOT_FOUND, `instance ${name} not found in ${this.root}`, { name });
    return record;
  }

  private sshdRunning(dir: string, record: LocalInstanceRecord): boolean {
    return record.sshd !== undefined && isAliveWith(record.sshd.pid, join(dir, 'sshd_config'));
  }

  private info(dir: string, record: LocalInstanceRecord): VmInfo {
    let status: VmStatus;
    if (this.sshdRunning(dir, record)) status = 'RUNNING';
    // Meant to run but its sshd is gone: it died under us, like a preempted VM.
    else status = record.state === 'RUNNING' ? 'TERMINATED' : 'STOPPED';
    return { name: record.name, status, labels: record.labels, persistent: record.persistent };
  }

  /** Copies the image into a fresh folder; `instance.json` is written last, so a half copy is retried. */
  private create(dir: string, spec: VmSpec, imageName: string): LocalInstanceRecord {
    const image = loadLocalMachineImage(this.imagesDir, imageName);
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    cpSync(image.dir, home, {
      recursive: true,
      force: true,
      filter: (source) => basename(source) !== 'image.json',
    });
    writeFileSync(join(home, '.machine-image'), `${imageName}\n`);
    const record: LocalInstanceRecord = {
      name: spec.name,
      machineImage: imageName,
      persistent: spec.persistent ?? false,
      labels: spec.labels ?? {},
      machineType: spec.machineType,
      accelerator: spec.accelerator,
      createdAt: new Date().toISOString(),
      state: 'STOPPED',
      boots: 0,
      entrypointBoot: 0,
    };
    writeRecord(dir, record);
    return record;
  }

  /** Starts sshd (reusing the last port when free), then runs the image's entrypoint over SSH. */
  private async boot(dir: string, current: LocalInstanceRecord): Promise<LocalInstanceRecord> {
    let record = current;
    if (!this.sshdRunning(dir, record)) {
      await this.halt(dir, record); // leftovers of a crashed instance must not survive its restart
      const port = record.lastPort && (await portFree(record.lastPort)) ? record.lastPort : undefined;
      const software = loadLocalMachineImage(this.imagesDir, record.machineImage);
      const path = software.manifest.path.map((folder) => resolve(software.dir, folder)).filter(existsSync);
      let host;
      try {
        host = await startLocalSshHost({ dir, port, detached: true, path });
      } catch (error) {
        throw vmFailure(
          VmErrorType.VM_BOOT_FAILED,
          `instance ${record.name}: sshd did not start`,
          {},
          error as Error,
        );
      }
      record = {
        ...record,
        state: 'RUNNING',
        sshd: { pid: host.process.pid, port: host.port },
        lastPort: host.port,
        boots: record.boots + 1,
      };
      writeRecord(dir, record);
    }
    const image = loadLocalMachineImage(this.imagesDir, record.machineImage);
    const session = await SshSession.connect(await this.sshTarget(record.name));
    try {
      const result = await session.exec(`cd "$HOME" && bash ./${image.manifest.entrypoint} < /dev/null`, {
        timeoutMs: this.options.entrypointTimeoutMs ?? 120_000,
      });
      if (result.code !== 0)
        throw vmFailure(
          VmErrorType.VM_BOOT_FAILED,
          `instance ${record.name}: ${image.manifest.entrypoint} exited ${result.code ?? result.signal}: ${result.stderr.trim()}`,
          { name: record.name },
        );
    } finally {
      session.close();
    }
    record = { ...record, entrypointBoot: record.boots };
    writeRecord(dir, record);
    return record;
  }

  /**
   * Stops the instance like a VM shutdown: its sshd, its tmux server, and every process of its
   * sessions and their process groups end, so a stopped instance runs nothing.
   */
  private async halt(dir: string, record: LocalInstanceRecord): Promise<void> {
    const configFile = join(dir, 'sshd_config');
    const sshdPid = [record.sshd?.pid, Number(readIfExists(join(dir, 'sshd.pid')))].find(
      (pid): pid is number => pid !== undefined && isAliveWith(pid, configFile),
    );
    const tmuxDir = tmuxDirOf(dir);
    killTmuxServer(tmuxDir);
    const processes = instanceProcesses(sshdPid, [`TMUX_TMPDIR=${tmuxDir}`, `HOME=${join(dir, 'home')}`]);
    // Without /proc (not Linux) only the sshd itself is known.
    if (sshdPid && !processes.some((entry) => entry.pid === sshdPid))
      processes.push({ pid: sshdPid, ppid: 0, pgid: sshdPid, state: '?' });
    await terminate(processes);
    removeRuntimeDir(dir);
    writeRecord(dir, {
      ...record,
      state: 'STOPPED',
      sshd: undefined,
      lastPort: record.sshd?.port ?? record.lastPort,
    });
  }
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

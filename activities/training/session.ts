import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Client, FileEntry, SFTPWrapper, Stats } from 'ssh2';
import {
  connectSshClient,
  execOnClient,
  SshError,
  type ExecResult,
  type SshOptions,
  type SshTarget,
} from '../remote/ssh';

/** Folders deeper than this in a download are refused (a loop or a hostile tree). */
const MAX_DOWNLOAD_DEPTH = 32;

/** A name of one directory entry that stays inside its folder wherever it is joined. */
export const isSafeFileName = (name: string): boolean =>
  name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name) && name.length <= 255;

/**
 * One SSH connection of the training activities: exec and (lazily) SFTP, host key pinned.
 *
 * Every operation fails instead of hanging when the link drops (ssh2 may leave a pending exec or
 * SFTP request without a callback); connecting is `connectSshClient`'s (pinned key, no unheard error).
 * SFTP paths must be absolute: the SFTP server starts in the account's home from passwd, which on a
 * local instance is not the `HOME` its shell sessions get.
 */
export class RemoteSession {
  /** Rejects when the connection drops. */
  private readonly dropped: Promise<never>;
  private channel: Promise<SFTPWrapper> | undefined;

  private constructor(private readonly client: Client) {
    this.dropped = new Promise<never>((_, reject) => {
      client.once('close', () => reject(new SshError('SSH connection closed')));
    });
    this.dropped.catch(() => undefined);
  }

  static async connect(target: SshTarget, options: SshOptions = {}): Promise<RemoteSession> {
    return new RemoteSession(await connectSshClient(target, options));
  }

  /** Runs one operation, failing instead of hanging if the connection drops meanwhile. */
  private guarded<T>(operation: Promise<T>): Promise<T> {
    operation.catch(() => undefined);
    return Promise.race([operation, this.dropped]);
  }

  /** Runs a command (no pty, stdin closed) and collects its output. */
  async exec(command: string, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      if (options.timeoutMs)
        timer = setTimeout(() => {
          reject(new SshError(`exec timed out after ${options.timeoutMs} ms`));
          this.client.destroy();
        }, options.timeoutMs);
    });
    timedOut.catch(() => undefined);
    try {
      return await this.guarded(Promise.race([execOnClient(this.client, command), timedOut]));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command and fails unless it exits 0. */
  async run(command: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(command, options);
    if (result.code !== 0) {
      throw new SshError(
        `remote command failed (exit ${result.code ?? result.signal}): ${command.slice(0, 200)}\n${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  }

  /** The SFTP channel, opened on first use. */
  private sftp(): Promise<SFTPWrapper> {
    if (!this.channel) {
      const opening = this.guarded(
        new Promise<SFTPWrapper>((resolve, reject) =>
          this.client.sftp((error, channel) =>
            error ? reject(new SshError(`SFTP subsystem failed: ${error.message}`)) : resolve(channel),
          ),
        ),
      );
      // A failed open is not cached: the next copy on this connection tries again.
      opening.catch(() => {
        if (this.channel === opening) this.channel = undefined;
      });
      this.channel = opening;
    }
    return this.channel;
  }

  /** Streams a local command's stdout (a tar or git archive) into a remote file. */
  async uploadCommandOutput(command: string, args: string[], remotePath: string): Promise<void> {
    const sftp = await this.sftp();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    const written = new Promise<void>((resolve, reject) => {
      const out = sftp.createWriteStream(remotePath);
      out.once('error', reject);
      out.once('close', () => resolve());
      child.stdout.pipe(out);
    });
    let code: number | null;
    try {
      [code] = await this.guarded(Promise.all([exited, written]));
    } catch (error) {
      // The connection dropped mid-copy: nobody reads the command's output any more, and a command
      // blocked on a full pipe would live on and keep the worker process from exiting.
      child.stdout.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw error;
    }
    if (code !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(stderr).toString()}`,
      );
    }
  }

  async putText(remotePath: string, content: string, mode = 0o644): Promise<void> {
    const sftp = await this.sftp();
    await this.guarded(
      new Promise<void>((resolve, reject) =>
        sftp.writeFile(remotePath, content, { mode }, (error) => (error ? reject(error) : resolve())),
      ),
    );
  }

  /**
   * Downloads a remote file or folder (recursively) to a local path; returns the files copied. Inside a
   * folder, what the VM shows is not trusted: symbolic links are not followed (nor copied), nor are
   * devices or sockets, and a name that could leave the local folder fails the download.
   */
  async download(remotePath: string, localPath: string): Promise<number> {
    const sftp = await this.sftp();
    const stats = await this.guarded(
      new Promise<Stats>((resolve, reject) =>
        sftp.stat(remotePath, (error, result) => (error ? reject(error) : resolve(result))),
      ),
    );
    return await this.downloadEntry(sftp, remotePath, localPath, stats, 0);
  }

  private async downloadEntry(
    sftp: SFTPWrapper,
    remotePath: string,
    localPath: string,
    stats: Stats,
    depth: number,
  ): Promise<number> {
    if (!stats.isDirectory()) {
      if (!stats.isFile()) return 0;
      mkdirSync(dirname(localPath), { recursive: true });
      await this.guarded(
        new Promise<void>((resolve, reject) =>
          sftp.fastGet(remotePath, localPath, (error) => (error ? reject(error) : resolve())),
        ),
      );
      return 1;
    }
    if (depth > MAX_DOWNLOAD_DEPTH)
      throw new Error(`${remotePath}: folders nested deeper than ${MAX_DOWNLOAD_DEPTH}`);
    mkdirSync(localPath, { recursive: true });
    const entries = await this.guarded(
      new Promise<FileEntry[]>((resolve, reject) =>
        sftp.readdir(remotePath, (error, list) => (error ? reject(error) : resolve(list))),
      ),
    );
    let count = 0;
    for (const entry of entries) {
      if (!isSafeFileName(entry.filename))
        throw new Error(`unsafe file name ${JSON.stringify(entry.filename)} in ${remotePath}`);
      const child = `${remotePath}/${entry.filename}`;
      const own = await this.guarded(
        new Promise<Stats>((resolve, reject) =>
          sftp.lstat(child, (error, result) => (error ? reject(error) : resolve(result))),
        ),
      );
      if (own.isSymbolicLink()) continue;
      count += await this.downloadEntry(sftp, child, join(localPath, entry.filename), own, depth + 1);
    }
    return count;
  }

  /** True when the remote path exists. */
  async exists(remotePath: string): Promise<boolean> {
    const sftp = await this.sftp();
    return await this.guarded(new Promise((resolve) => sftp.stat(remotePath, (error) => resolve(!error))));
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.client.destroy();
  }

  close(): void {
    this.client.end();
  }
}

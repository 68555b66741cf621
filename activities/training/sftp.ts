import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client, type FileEntry, type SFTPWrapper, type Stats } from 'ssh2';
import { SshError, type SshTarget } from '../remote/ssh';

/**
 * An SFTP channel on its own SSH connection, with the host key pinned like `SshSession`.
 * SFTP paths must be absolute: the SFTP server starts in the account's home from passwd, which on a
 * local instance is not the `HOME` its shell sessions get.
 */
export class SftpSession {
  /** Rejects when the connection drops: ssh2 may never call back a pending SFTP request then. */
  private readonly dropped: Promise<never>;

  private constructor(
    private readonly client: Client,
    readonly sftp: SFTPWrapper,
  ) {
    this.dropped = new Promise<never>((_, reject) => {
      client.once('close', () => reject(new SshError('SFTP connection closed')));
    });
    this.dropped.catch(() => undefined);
  }

  /** Runs one SFTP operation, failing instead of hanging if the connection drops meanwhile. */
  private guarded<T>(operation: Promise<T>): Promise<T> {
    return Promise.race([operation, this.dropped]);
  }

  static async connect(target: SshTarget, readyTimeoutMs = 10_000): Promise<SftpSession> {
    const client = new Client();
    const expected = Buffer.from(target.hostKey, 'base64');
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.once('error', (error) => reject(new SshError(`SFTP connection failed: ${error.message}`)));
      // A link dropped between handshake and the subsystem reply raises no error, only `close`.
      client.once('close', () => reject(new SshError('SFTP connection closed before it was ready')));
      client.once('ready', () =>
        client.sftp((error, channel) =>
          error ? reject(new SshError(`SFTP subsystem failed: ${error.message}`)) : resolve(channel),
        ),
      );
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: 5_000,
        hostVerifier: (key: Buffer) => key.equals(expected),
      });
    });
    client.on('error', () => undefined); // later errors surface through the pending operation
    return new SftpSession(client, sftp);
  }

  /** Streams a local command's stdout (a tar or git archive) into a remote file. */
  async uploadCommandOutput(command: string, args: string[], remotePath: string): Promise<void> {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    const written = new Promise<void>((resolve, reject) => {
      const out = this.sftp.createWriteStream(remotePath);
      out.once('error', reject);
      out.once('close', () => resolve());
      child.stdout.pipe(out);
    });
    const [code] = await this.guarded(Promise.all([exited, written]));
    if (code !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(stderr).toString()}`,
      );
    }
  }

  async putText(remotePath: string, content: string, mode = 0o644): Promise<void> {
    await this.guarded(
      new Promise<void>((resolve, reject) =>
        this.sftp.writeFile(remotePath, content, { mode }, (error) => (error ? reject(error) : resolve())),
      ),
    );
  }

  /** Downloads a remote file or folder (recursively) to a local path; returns the files copied. */
  async download(remotePath: string, localPath: string): Promise<number> {
    const stats = await this.guarded(
      new Promise<Stats>((resolve, reject) =>
        this.sftp.stat(remotePath, (error, result) => (error ? reject(error) : resolve(result))),
      ),
    );
    if (!stats.isDirectory()) {
      mkdirSync(dirname(localPath), { recursive: true });
      await this.guarded(
        new Promise<void>((resolve, reject) =>
          this.sftp.fastGet(remotePath, localPath, (error) => (error ? reject(error) : resolve())),
        ),
      );
      return 1;
    }
    mkdirSync(localPath, { recursive: true });
    const entries = await this.guarded(
      new Promise<FileEntry[]>((resolve, reject) =>
        this.sftp.readdir(remotePath, (error, list) => (error ? reject(error) : resolve(list))),
      ),
    );
    let count = 0;
    for (const entry of entries) {
      count += await this.download(`${remotePath}/${entry.filename}`, join(localPath, entry.filename));
    }
    return count;
  }

  /** True when the remote path exists. */
  async exists(remotePath: string): Promise<boolean> {
    return await this.guarded(
      new Promise((resolve) => this.sftp.stat(remotePath, (error) => resolve(!error))),
    );
  }

  close(): void {
    this.client.end();
  }
}

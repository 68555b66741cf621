import { Client, type ClientChannel } from 'ssh2';

/** Where and how to reach a VM over SSH. The host key is pinned: a different key is refused. */
export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer | string;
  /** Base64 public key blob the host must present (from the provider, never trust-on-first-use). */
  hostKey: string;
}

export interface ExecResult {
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export class SshError extends Error {
  override readonly name = 'SshError';
}

export interface SshOptions {
  /** ssh2 keepalive: without it a frozen connection is never noticed. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  readyTimeoutMs?: number;
}

/**
 * Opens an ssh2 connection with the host key pinned, keepalive on, and clear errors on refusal,
 * timeout, a dropped handshake or a wrong key. The client keeps an error listener for its whole life:
 * ssh2 may emit a second error after a failed handshake ("Connection lost before handshake"), which
 * unheard would crash the worker.
 */
export async function connectSshClient(target: SshTarget, options: SshOptions = {}): Promise<Client> {
  const client = new Client();
  const expected = Buffer.from(target.hostKey, 'base64');
  let hostKeyMismatch = false;
  client.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (error) =>
        reject(
          new SshError(
            hostKeyMismatch
              ? `host key of ${target.host}:${target.port} does not match the pinned key`
              : `cannot connect to ${target.username}@${target.host}:${target.port}: ${error.message}`,
          ),
        ),
      );
      client.once('close', () => reject(new SshError(`connection to ${target.host}:${target.port} closed`)));
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: options.readyTimeoutMs ?? 10_000,
        keepaliveInterval: options.keepaliveIntervalMs ?? 5_000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        hostVerifier: (key: Buffer) => {
          hostKeyMismatch = !key.equals(expected);
          return !hostKeyMismatch;
        },
      });
    });
  } catch (error) {
    client.destroy();
    throw error;
  }
  return client;
}

/**
 * Runs one command on an open client (no pty, stdin closed) and collects its output when the channel
 * closes. It alone never settles if the link drops without closing the channel: callers race it
 * against the connection's end (SshSession, the training's RemoteSession).
 */
export function execOnClient(client: Client, command: string): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    client.exec(command, (error, channel: ClientChannel) => {
      if (error) return reject(new SshError(`exec failed: ${error.message}`));
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      let signal: string | undefined;
      channel.on('data', (chunk: Buffer) => out.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode;
        signal = exitSignal;
      });
      channel.on('close', () =>
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
      channel.end();
    });
  });
}

/**
 * One SSH connection. Every pending exec fails when the connection closes: ssh2 may leave an exec
 * channel without `close`/`exit` events when the link drops, and a monitor must never wait forever.
 */
export class SshSession {
  private readonly pending = new Set<(error: Error) => void>();
  private closedError: Error | undefined;

  private constructor(private readonly client: Client) {
    client.on('close', () => this.failPending(new SshError('SSH connection closed')));
    client.on('error', (error) => this.failPending(new SshError(`SSH connection failed: ${error.message}`)));
  }

  /** Connects with the host key pinned; rejects with a clear error on refusal, timeout or wrong key. */
  static async connect(target: SshTarget, options: SshOptions = {}): Promise<SshSession> {
    return new SshSession(await connectSshClient(target, options));
  }

  /** Runs a command (no pty, stdin closed) and collects its output. */
  async exec(command: string, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    if (this.closedError) throw this.closedError;
    let fail: (error: Error) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    this.pending.add(fail);
    const timer = options.timeoutMs
      ? setTimeout(
          () => fail(new SshError(`exec timed out after ${options.timeoutMs} ms: ${command}`)),
          options.timeoutMs,
        )
      : undefined;
    const running = execOnClient(this.client, command);
    running.catch(() => undefined);
    try {
      return await Promise.race([running, failed]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(fail);
    }
  }

  /** Runs a command and fails unless it exits 0. */
  async run(command: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(command, options);
    if (result.code !== 0) {
      throw new SshError(
        `remote command failed (exit ${result.code ?? result.signal}): ${command}\n${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  }

  /** Drops the TCP connection at once, as a network cut would (used by fault tests). */
  destroy(): void {
    this.client.destroy();
  }

  close(): void {
    this.client.end();
  }

  private failPending(error: Error): void {
    this.closedError ??= error;
    for (const fail of [...this.pending]) fail(error);
  }
}

/** Quotes a string for a POSIX shell. */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

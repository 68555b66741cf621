import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { SshTarget } from '../remote/ssh';
import { freePort, startProcess, waitUntilReady, StackError, type ManagedProcess } from './process';
import { ensureRuntimeDir, removeRuntimeDir, runtimeDirOf } from './runtime-dir';

export const SSHD_PATH = '/usr/sbin/sshd';

/** Everything a client needs to reach a local SSH host, with its host key pinned. */
export type SshEndpoint = SshTarget & { privateKey: Buffer };

export interface LocalSshHost extends SshEndpoint {
  /** Folder of this host: keys, config, log and its own HOME. */
  readonly dir: string;
  /** HOME of sessions on this host (`SetEnv HOME=…`). */
  readonly home: string;
  /** TMUX_TMPDIR of sessions on this host: its own tmux server, its socket under a short runtime folder. */
  readonly tmuxDir: string;
  readonly process: ManagedProcess;
  /** Stops sshd and the host's tmux server, which ends everything it runs. */
  stop(): Promise<void>;
}

function ensureKey(path: string): void {
  if (!existsSync(path))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'retrainer-local', '-f', path]);
}

/** The base64 key blob of an OpenSSH `.pub` file. */
export function publicKeyBlob(pubFile: string): string {
  const blob = readFileSync(pubFile, 'utf8').trim().split(/\s+/)[1];
  if (!blob) throw new StackError(`${pubFile} is not an OpenSSH public key`);
  return blob;
}

/** The sshd_config of a local host: loopback only, key auth only, its own HOME and tmux server. */
export function sshdConfig(options: {
  dir: string;
  port: number;
  username: string;
  home: string;
  tmuxDir: string;
  /** Folders put before the system PATH in the host's sessions. */
  path?: string[];
}): string {
  const { dir } = options;
  const path = options.path?.length
    ? ` "PATH=${[...options.path, '/usr/local/bin', '/usr/bin', '/bin'].join(':')}"`
    : '';
  return [
    `Port ${options.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${options.username}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'PrintMotd no',
    'ClientAliveInterval 15',
    `SetEnv HOME=${options.home} TMUX_TMPDIR=${options.tmuxDir}${path}`,
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** True once the port answers with an SSH banner. */
export function sshBannerSeen(port: number): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => socket.destroy(new Error('no banner')));
    socket.once('data', (data) => {
      socket.destroy();
      resolvePromise(data.toString('latin1').startsWith('SSH-2.0'));
    });
    socket.once('error', reject);
  });
}

/**
 * Starts an OpenSSH sshd of its own on a free loopback port, with generated host and client keys.
 * Only the user running it can log in. Keys are kept in `dir`, so a restarted host keeps its identity.
 */
export async function startLocalSshHost(options: {
  dir: string;
  port?: number;
  detached?: boolean;
  /** Folders put first on PATH in the host's sessions (a machine image's software). */
  path?: string[];
}): Promise<LocalSshHost> {
  if (!existsSync(SSHD_PATH))
    throw new StackError(`${SSHD_PATH} not found: install openssh-server (npm test runs setup)`);
  const dir = resolve(options.dir);
  const home = join(dir, 'home');
  for (const folder of [dir, home]) mkdirSync(folder, { recursive: true, mode: 0o700 });
  const tmuxDir = ensureRuntimeDir(dir);
  // sshd started by root insists on its privilege-separation folder.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  ensureKey(join(dir, 'host_ed25519_key'));
  ensureKey(join(dir, 'client_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')), { mode: 0o600 });
  const port = options.port ?? (await freePort());
  const username = userInfo().username;
  const configFile = join(dir, 'sshd_config');
  writeFileSync(configFile, sshdConfig({ dir, port, username, home, tmuxDir, path: options.path }));
  execFileSync(SSHD_PATH, ['-t', '-f', configFile]);
  const proc = startProcess({
    name: `sshd ${dir}`,
    command: SSHD_PATH,
    args: ['-D', '-f', configFile, '-E', join(dir, 'sshd.log')],
    logFile: join(dir, 'sshd.out'),
    detached: options.detached,
  });
  try {
    await waitUntilReady(proc, `sshd on 127.0.0.1:${port}`, () => sshBannerSeen(port), 15_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    username,
    privateKey: readFileSync(join(dir, 'client_ed25519')),
    hostKey: publicKeyBlob(join(dir, 'host_ed25519_key.pub')),
    dir,
    home,
    tmuxDir,
    process: proc,
    async stop() {
      await proc.stop();
      killTmuxServer(tmuxDir);
      removeRuntimeDir(dir);
    },
  };
}

/**
 * TMUX_TMPDIR of the host kept in `dir`: a short folder outside it, because tmux's socket path
 * (`<TMUX_TMPDIR>/tmux-<uid>/default`) must stay under the 108-byte Unix socket limit.
 */
export const tmuxDirOf = (dir: string): string => runtimeDirOf(dir);

/** Ends the tmux server of a local host (and so every session it runs); a no-op if none runs. */
export function killTmuxServer(tmuxDir: string): void {
  try {
    execFileSync('tmux', ['kill-server'], { env: { ...process.env, TMUX_TMPDIR: tmuxDir }, stdio: 'ignore' });
  } catch {
    // no server running: nothing to end
  }
}

import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StackError } from './process';

/**
 * Unix socket paths stop at 108 bytes (`sun_path`), so nothing that binds a socket (tmux's server,
 * anything under an instance's sshd) may live under the clone or the data folder: a clone in a
 * long home directory would fail with "File name too long". Sockets go instead under a short
 * per-user directory, `$XDG_RUNTIME_DIR/retrainer` or `<tmpdir>/retrainer-<uid>`, in a sub-folder
 * named by a hash of what owns it, so every process (a worker started after a crash) finds the same
 * one from the owner's path alone.
 */

/** Longest base we accept: leaves room for `/<12-char hash>/tmux-<uid>/default` under 108 bytes. */
const MAX_BASE_LENGTH = 60;

function candidateBases(): string[] {
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  return [
    ...(xdg ? [join(xdg, 'retrainer')] : []),
    join(tmpdir(), `retrainer-${uid}`),
    `/tmp/retrainer-${uid}`,
  ].filter((base) => base.length <= MAX_BASE_LENGTH);
}

/** Creates `dir` 0700 if missing and checks it is a real folder of ours that no one else can enter. */
function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0)
    throw new StackError(
      `${dir} must be a folder owned by this user with mode 0700 (it holds Unix sockets); remove it and retry`,
    );
}

let base: string | undefined;

/** The per-user base folder of runtime directories (created 0700 on first use). */
export function runtimeBase(): string {
  if (base) return base;
  const errors: string[] = [];
  for (const candidate of candidateBases()) {
    try {
      ensurePrivateDir(candidate);
      base = candidate;
      return candidate;
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  throw new StackError(`no short private folder for Unix sockets: ${errors.join('; ') || 'all too long'}`);
}

/** The short runtime directory that belongs to `owner` (a path): same owner, same directory. */
export function runtimeDirOf(owner: string): string {
  const hash = createHash('sha256').update(resolve(owner)).digest('hex').slice(0, 12);
  return join(runtimeBase(), hash);
}

/** Creates the runtime directory of `owner` (0700) and returns it. */
export function ensureRuntimeDir(owner: string): string {
  const dir = runtimeDirOf(owner);
  ensurePrivateDir(dir);
  return dir;
}

/** Removes the runtime directory of `owner` (its sockets are dead once their servers stopped). */
export function removeRuntimeDir(owner: string): void {
  rmSync(runtimeDirOf(owner), { recursive: true, force: true });
}

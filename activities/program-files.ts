import { ApplicationFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { RunnerErrorType } from '../workflows/definitions';
import { buildRoot, isRepoPath } from './code-files';
import type { ProgramFiles } from './kinds/program';

const execFileAsync = promisify(execFile);
const COMMIT = /^[0-9a-f]{40}$/;

/**
 * Folders and files that running a program writes next to its code and never reads as code:
 * Python's bytecode caches (`__pycache__/`, used only while they match their source), test and
 * type-checker caches, notebook checkpoints, Finder metadata. A `.pyc` outside `__pycache__/` is
 * not skipped: Python imports such a file as a module of its own.
 */
const LITTER_FOLDERS = new Set([
  '__pycache__',
  '.pytest_cache',
  '.mypy_cache',
  '.ruff_cache',
  '.ipynb_checkpoints',
]);
const LITTER_FILES = new Set(['.DS_Store']);

/** Bounds of a program hashed from a folder (a spec naming `/` fails the plan, it does not read the disk). */
export const MAX_PROGRAM_FILES = 20_000;
export const MAX_PROGRAM_BYTES = 512 * 1024 * 1024;

const invalid = (message: string) =>
  ApplicationFailure.create({ type: RunnerErrorType.InvalidProgram, message, nonRetryable: true });
const notFound = (message: string) =>
  ApplicationFailure.create({ type: RunnerErrorType.CodeFileNotFound, message, nonRetryable: true });

/** Where a step's program comes from: its repository at the pinned commit, else a folder of the worker (default: this build). */
export type ProgramOrigin = { repo: string; commit: string } | { folder?: string };

/**
 * The content of programs as it enters cache keys, path → id. A file's id is its git blob id at a
 * pinned commit (`git:<oid>`), else `sha256:<hex>` of its bytes; a folder's is the sha256 of its
 * listing (sorted relative path → the file's id, litter left out), so committed or stray
 * `__pycache__/` changes nothing; `null` stands for a shared path that does not exist. One instance
 * per plan: it remembers what it read, so twenty steps on one commit cost one `git ls-tree`.
 */
export class ProgramContent {
  private readonly known = new Map<string, Promise<string | null>>();

  constructor(
    private readonly root: string = buildRoot,
    private readonly limits = { files: MAX_PROGRAM_FILES, bytes: MAX_PROGRAM_BYTES },
  ) {}

  /** path → id of every path of `files`; fails typed when one of its own `paths` is missing. */
  async ids(files: ProgramFiles, origin: ProgramOrigin): Promise<Record<string, string | null>> {
    const required = new Set(files.paths);
    const all = [...new Set([...files.paths, ...(files.shared ?? [])])].sort();
    for (const path of all) {
      if (!isRepoPath(path)) throw notFound(`invalid program path ${JSON.stringify(path)}`);
    }
    const pinned = 'commit' in origin ? origin : undefined;
    const folder = pinned ? '' : resolve((origin as { folder?: string }).folder ?? this.root);
    const where = pinned ? `${pinned.repo}\0${pinned.commit}` : folder;
    const missing = all.filter((path) => !this.known.has(`${where}\0${path}`));
    if (missing.length > 0) {
      const listed = pinned ? gitIds(pinned.repo, pinned.commit, missing) : undefined;
      for (const path of missing) {
        const id = listed
          ? listed.then((ids) => ids.get(path) ?? null)
          : folderId(folder, path, this.limits).then((digest) => digest ?? null);
        // Awaited below or by a later step; a failure is thrown there, never left unhandled.
        id.catch(() => undefined);
        this.known.set(`${where}\0${path}`, id);
      }
    }
    const ids: Record<string, string | null> = {};
    for (const path of all) {
      const id = await (this.known.get(`${where}\0${path}`) as Promise<string | null>);
      if (id === null && required.has(path)) {
        throw notFound(
          pinned
            ? `no ${path} at commit ${pinned.commit} of ${pinned.repo}`
            : `no ${path} in ${folder === resolve(this.root) ? 'this build' : folder}`,
        );
      }
      ids[path] = id;
    }
    return ids;
  }
}

/** Whether a file at `rel` (inside a program folder) is litter: in a litter folder, or a litter name. */
function isLitter(rel: string): boolean {
  const parts = rel.split('/');
  return (
    parts.slice(0, -1).some((part) => LITTER_FOLDERS.has(part)) ||
    LITTER_FILES.has(parts[parts.length - 1] ?? '')
  );
}

/** A folder's id: sha256 of its files' sorted relative paths and ids. */
function listingId(files: [rel: string, id: string][]): string {
  const lines = files
    .filter(([rel]) => !isLitter(rel))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, id]) => `${JSON.stringify(rel)} ${id}\n`);
  return `files:${createHash('sha256').update(lines.join('')).digest('hex')}`;
}

/**
 * The ids of `paths` at `commit`, from one `git ls-tree -r -t` (the paths' own entries and every
 * file under them). A symbolic link under them fails: the key would hold the link's text, not the
 * code it points to.
 */
async function gitIds(repo: string, commit: string, paths: string[]): Promise<Map<string, string>> {
  if (!COMMIT.test(commit)) throw notFound(`invalid commit ${JSON.stringify(commit)}`);
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      'git',
      ['-C', repo, 'ls-tree', '-r', '-t', '-z', '--full-tree', commit, '--', ...paths],
      { maxBuffer: 64 * 1024 * 1024 },
    ));
  } catch {
    throw notFound(`cannot read commit ${commit} of ${repo}`);
  }
  const entries = new Map<string, { type: string; id: string }>();
  for (const entry of stdout.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const [mode = '', type = '', id = ''] = entry.slice(0, tab).split(' ');
    const path = entry.slice(tab + 1);
    if (mode === '120000') {
      throw invalid(
        `program file ${path} at commit ${commit} of ${repo} is a symbolic link: the cache key cannot follow it (commit the file itself)`,
      );
    }
    entries.set(path, { type, id });
  }
  const ids = new Map<string, string>();
  for (const path of paths) {
    const own = entries.get(path);
    if (!own) continue;
    if (own.type !== 'tree') {
      ids.set(path, `git:${own.id}`);
      continue;
    }
    const files: [string, string][] = [];
    for (const [name, { type, id }] of entries) {
      if (type !== 'tree' && name.startsWith(`${path}/`))
        files.push([name.slice(path.length + 1), `git:${id}`]);
    }
    ids.set(path, listingId(files));
  }
  return ids;
}

/**
 * The id of `root/path` in a folder of the worker (undefined when it does not exist). Symbolic
 * links and special files fail, and so does a folder over the limits (MAX_PROGRAM_FILES files,
 * MAX_PROGRAM_BYTES bytes), checked before each file is read; litter folders are not even read.
 */
async function folderId(
  root: string,
  path: string,
  limits: { files: number; bytes: number },
): Promise<string | undefined> {
  const budget = { files: 0, bytes: 0 };
  const files: [string, string][] = [];
  const visit = async (rel: string): Promise<'file' | 'folder' | undefined> => {
    const full = rel ? join(root, path, rel) : join(root, path);
    const shown = rel ? `${path}/${rel}` : path;
    const info = await lstat(full).catch((error: NodeJS.ErrnoException) => {
      if (!rel && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return undefined;
      throw error;
    });
    if (!info) return undefined;
    if (info.isSymbolicLink()) {
      throw invalid(
        `program file ${shown} is a symbolic link: the cache key cannot follow it (copy the file, or pin a repo)`,
      );
    }
    if (info.isDirectory()) {
      if (rel && LITTER_FOLDERS.has(basename(rel))) return 'folder';
      for (const name of await readdir(full)) await visit(rel ? `${rel}/${name}` : name);
      return 'folder';
    }
    if (!info.isFile()) throw invalid(`program path ${shown} is neither a file nor a folder`);
    budget.files += 1;
    budget.bytes += info.size;
    if (budget.files > limits.files || budget.bytes > limits.bytes) {
      throw invalid(`program ${path} holds more than ${limits.files} files or ${limits.bytes} bytes`);
    }
    const digest = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
    files.push([rel, `sha256:${digest}`]);
    return 'file';
  };
  const found = await visit('');
  if (found === undefined) return undefined;
  return found === 'file' ? (files[0]?.[1] as string) : listingId(files);
}

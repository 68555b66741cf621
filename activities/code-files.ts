import { ApplicationFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RunnerErrorType } from '../workflows/definitions';

const execFileAsync = promisify(execFile);

/**
 * A file a step names inside a repository: relative, `/`-separated, no `.`/`..` segment, nothing
 * option-like and no `:` (it ends up in `git cat-file blob <commit>:<path>`).
 */
const REPO_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function isRepoPath(path: string): boolean {
  return REPO_PATH.test(path) && !path.split('/').some((part) => part === '.' || part === '..');
}

/** Where a step's code comes from: its repository at the commit the plan pinned, or this build. */
export interface CodeOrigin {
  repo?: { url: string };
  commit?: string;
}

/** The project's root: the checkout, or dist/ in the production build (which copies every pipeline's files). */
export const buildRoot = join(__dirname, '..');

const notFound = (message: string) =>
  ApplicationFailure.create({ type: RunnerErrorType.CodeFileNotFound, message, nonRetryable: true });

/**
 * The text of `path` as the step will run it: `git cat-file blob <commit>:<path>` in the step's
 * repository when the plan pinned one (a deploy in the middle of a multi-day run changes nothing
 * under it), else the file of this build. Paths and commits are checked first, and neither can be
 * taken for an option.
 */
export async function readCodeFile(origin: CodeOrigin, path: string, signal?: AbortSignal): Promise<string> {
  if (!isRepoPath(path)) throw notFound(`invalid file path ${JSON.stringify(path)}`);
  if (origin.repo && origin.commit) {
    if (!COMMIT.test(origin.commit)) throw notFound(`invalid commit ${JSON.stringify(origin.commit)}`);
    try {
      const { stdout } = await execFileAsync(
        'git',
        ['-C', origin.repo.url, 'cat-file', 'blob', `${origin.commit}:${path}`],
        { maxBuffer: 64 * 1024 * 1024, ...(signal ? { signal } : {}) },
      );
      return stdout;
    } catch (error) {
      if (signal?.aborted) throw error;
      throw notFound(`no file ${path} at commit ${origin.commit} of ${origin.repo.url}`);
    }
  }
  try {
    return await readFile(join(buildRoot, path), 'utf8');
  } catch {
    throw notFound(`no file ${path} in this build`);
  }
}

/** sha256 of a text, the form in which file contents enter cache keys. */
export const textHash = (text: string): string => createHash('sha256').update(text).digest('hex');

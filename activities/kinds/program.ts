import { posix } from 'node:path';
import { isRepoPath } from '../code-files';

/**
 * What a step runs as a program, as paths of its repository (folders or files). The plan puts their
 * content in the step's cache key: at the pinned commit (git object ids), or, for a step that pins
 * no repository, in this build (or `folder`) as sha256 of every file's bytes.
 */
export interface ProgramFiles {
  /** The program's own code: each must exist (else the plan fails with `CodeFileNotFound`). */
  paths: string[];
  /** Code every program may load that need not exist in every repository (shared `lib/`, pins). */
  shared?: string[];
  /** For a step that pins no repository: the worker folder it runs from, instead of this build. */
  folder?: string;
}

/**
 * What every model program may load besides its own folder, relative to the programs' folder
 * (`models`): `lib/`, put on `sys.path` by each program (`sys.path.insert(0, HERE/../lib)`, see
 * models/README.md), and `requirements.txt`, the pinned Python libraries the programs run with.
 * test/unit/program-imports.test.ts checks that no program under models/ reaches anything else.
 */
export const SHARED_PROGRAM_PATHS = ['lib', 'requirements.txt'] as const;

/**
 * The program of a step that runs model scripts (`models/<model>/train.py`) from the folder `code`
 * (`models`): each script's model folder (`models/<model>`) and the shared paths of `code`. A script
 * that is no repository path, or sits right in `code`, keys the whole of `code`: more than it
 * needs, never less.
 */
export function modelProgram(code: string, scripts: readonly string[], folder?: string): ProgramFiles {
  const paths = new Set<string>();
  for (const script of scripts) paths.add(programFolderOf(code, script));
  return {
    paths: [...paths].sort(),
    shared: SHARED_PROGRAM_PATHS.map((path) => `${code}/${path}`),
    ...(folder === undefined ? {} : { folder }),
  };
}

/** `models/<model>` for `models/<model>/…/x.py`; the script's folder outside `code`; else `code`. */
export function programFolderOf(code: string, script: string): string {
  if (!isRepoPath(script)) return code;
  if (script.startsWith(`${code}/`)) {
    const rest = script.slice(code.length + 1).split('/');
    return rest.length > 1 ? `${code}/${rest[0]}` : code;
  }
  const dir = posix.dirname(script);
  return dir === '.' ? script : dir;
}

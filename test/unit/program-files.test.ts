import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainKind } from '../../activities/kinds/training';
import { resolvePlan } from '../../activities/plan';
import { ProgramContent } from '../../activities/program-files';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { RunnerErrorType } from '../../workflows/definitions';
import { testTempDir } from '../harness/paths';

/** How program files become ids: hostile names, limits, special files, pinned and unpinned. */

let dir: string;
beforeAll(() => {
  dir = testTempDir('program-files');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  expect((error as ApplicationFailure).nonRetryable).toBe(true);
  return error as ApplicationFailure;
};
const HOSTILE = ['--help', 'it\'s "quoted".py', 'new\nline.py', ' spaced .py', '-rf'];

describe('program ids of a folder (unpinned)', () => {
  const folder = (name: string) => {
    const root = join(dir, name);
    mkdirSync(join(root, 'models', 'm'), { recursive: true });
    writeFileSync(join(root, 'models', 'm', 'train.py'), 'print(1)\n');
    for (const file of HOSTILE) writeFileSync(join(root, 'models', 'm', file), file);
    return root;
  };
  const ids = (root: string, limits?: { files: number; bytes: number }) =>
    new ProgramContent(root, limits).ids({ paths: ['models/m'], shared: ['models/lib'] }, {});

  it('keys hostile file names like any others: the same files agree, a rename or an edit does not', async () => {
    const a = await ids(folder('a'));
    expect(a['models/m']).toMatch(/^files:[0-9a-f]{64}$/);
    expect(a['models/lib']).toBeNull();
    expect(await ids(folder('b'))).toEqual(a);
    const renamed = folder('c');
    renameSync(join(renamed, 'models', 'm', '--help'), join(renamed, 'models', 'm', '--helq'));
    expect((await ids(renamed))['models/m']).not.toBe(a['models/m']);
    const edited = folder('d');
    appendFileSync(join(edited, 'models', 'm', 'new\nline.py'), '!');
    expect((await ids(edited))['models/m']).not.toBe(a['models/m']);
  });

  it('refuses a folder over its file or byte limit before reading further, and special files', async () => {
    const root = folder('e');
    const files = await rejection(ids(root, { files: 3, bytes: 1e9 }));
    expect(files.type).toBe(RunnerErrorType.InvalidProgram);
    expect(files.message).toBe('program models/m holds more than 3 files or 1000000000 bytes');
    const bytes = await rejection(ids(root, { files: 100, bytes: 20 }));
    expect(bytes.message).toContain('more than 100 files or 20 bytes');
    execFileSync('mkfifo', [join(root, 'models', 'm', 'pipe')]);
    const fifo = await rejection(ids(root));
    expect(fifo.type).toBe(RunnerErrorType.InvalidProgram);
    expect(fifo.message).toBe('program path models/m/pipe is neither a file nor a folder');
  });

  it('refuses paths that are no repository paths before touching the disk', async () => {
    for (const path of ['../etc', '/etc', '--upload-pack=x', 'models/../..', '']) {
      const error = await rejection(new ProgramContent(dir).ids({ paths: [path] }, {}));
      expect(error.type).toBe(RunnerErrorType.CodeFileNotFound);
      expect(error.message).toBe(`invalid program path ${JSON.stringify(path)}`);
    }
  });
});

describe('program ids at a pinned commit', () => {
  it('match for equal content at two commits, name hostile files safely, and ignore committed litter', async () => {
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, 'models', 'm'), { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        encoding: 'utf8',
      }).trim();
    for (const file of HOSTILE) writeFileSync(join(repo, 'models', 'm', file), file);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const one = git('rev-parse', 'HEAD');
    mkdirSync(join(repo, 'models', 'm', '__pycache__'));
    writeFileSync(join(repo, 'models', 'm', '__pycache__', 'x.pyc'), 'litter');
    writeFileSync(join(repo, 'README.md'), 'words');
    git('add', '-A', '-f');
    git('commit', '-q', '-m', 'two');
    const two = git('rev-parse', 'HEAD');
    appendFileSync(join(repo, 'models', 'm', '-rf'), '!');
    git('commit', '-q', '-am', 'three');
    const three = git('rev-parse', 'HEAD');

    const content = new ProgramContent(dir);
    const at = (commit: string) => content.ids({ paths: ['models/m'] }, { repo, commit });
    expect((await at(one))['models/m']).toMatch(/^files:[0-9a-f]{64}$/);
    expect(await at(two)).toEqual(await at(one));
    expect((await at(three))['models/m']).not.toBe((await at(one))['models/m']);
    const bad = await rejection(content.ids({ paths: ['models/m'] }, { repo, commit: '--all' }));
    expect(bad.message).toBe('invalid commit "--all"');
  });
});

describe('an unpinned train with codeFolder', () => {
  it('is keyed on that folder, the one it ships', async () => {
    const code = join(dir, 'code');
    mkdirSync(join(code, 'models', 'm'), { recursive: true });
    writeFileSync(join(code, 'models', 'm', 'train.py'), 'print(1)\n');
    const pipeline = definePipeline('code-folder')
      .step('train', {
        kind: 'train',
        spec: { model: 'm', script: 'models/m/train.py', data: 'd.t', vm: {}, codeFolder: code },
        outputs: ['model'],
      })
      .build();
    const plan = () =>
      resolvePlan(
        // The build root is elsewhere (and has no models/m): only codeFolder is read.
        {
          pipelines: createPipelineRegistry([pipeline]),
          kinds: [trainKind],
          buildRoot: join(dir, 'nowhere'),
        },
        { pipeline: 'code-folder', workflowId: 'code-folder/1', startTime: '2026-11-23T09:00:00.000Z' },
      );
    const before = (await plan()).steps[0]?.cacheKey;
    appendFileSync(join(code, 'models', 'm', 'train.py'), 'print(2)\n');
    expect((await plan()).steps[0]?.cacheKey).not.toBe(before);
  });
});

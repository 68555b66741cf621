import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runModel, type KindDeps } from '../../activities/kinds/common';
import { testTempDir } from '../harness/paths';

describe('worker-side model programs (predict, evaluate)', () => {
  it('run the code at the commit the plan pinned, not the working tree', async () => {
    const repo = testTempDir('models-repo');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    const program = join(repo, 'models', 'm', 'train.py');
    mkdirSync(join(repo, 'models', 'm'), { recursive: true });
    writeFileSync(program, 'print("pinned")\n');
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'v1');
    const commit = git('rev-parse', 'HEAD');
    writeFileSync(program, 'print("working tree")\n');

    const deps = { workDir: testTempDir('models-work'), projectDir: repo } as KindDeps;
    const signal = new AbortController().signal;
    expect(
      (await runModel(deps, 'models/m/train.py', [], signal, { repo, commit, path: 'models' })).trim(),
    ).toBe('pinned');
    // Extracted once per commit: a second call reuses the folder.
    expect(
      (await runModel(deps, 'models/m/train.py', [], signal, { repo, commit, path: 'models' })).trim(),
    ).toBe('pinned');
    expect((await runModel(deps, 'models/m/train.py', [], signal)).trim()).toBe('working tree');
    await expect(
      runModel(deps, 'models/m/train.py', [], signal, { repo, commit: '0'.repeat(40), path: 'models' }),
    ).rejects.toThrow(/cannot check out .* at 0{40}/);
  });
});

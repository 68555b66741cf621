import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';
import { testTempDir } from '../harness/paths';

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' });

describe('a fresh clone, set up', () => {
  it('under a path of over 150 characters, setup leaves the tracked tree unmodified', () => {
    let parent = testTempDir('fresh-clone');
    for (let i = 0; parent.length < 150; i++) parent = join(parent, `a-deep-home-folder-${i}`);
    mkdirSync(parent, { recursive: true });
    const clone = join(parent, 'retrainer');
    git(parent, 'clone', '--quiet', projectRoot, clone);
    expect(clone.length).toBeGreaterThanOrEqual(150);
    expect(git(clone, 'status', '--porcelain')).toBe('');
    // The Python part of setup writes only into .venv/ (ignored); it takes minutes, so the clone
    // borrows this checkout's. Everything npm does (`npm ci`) runs for real in the clone.
    symlinkSync(join(projectRoot, '.venv'), join(clone, '.venv'));
    execFileSync('bash', ['scripts/setup.sh'], {
      cwd: clone,
      env: { ...process.env, npm_config_prefer_offline: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    expect(existsSync(join(clone, 'node_modules', '.retrainer-stamp'))).toBe(true);
    expect(git(clone, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  }, 600_000);
});

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModel, type KindDeps } from '../../activities/kinds/common';
import { projectRoot } from '../../activities/providers/paths';
import { testTempDir } from '../harness/paths';

const SECRETS = {
  SMTP_URL: 'smtp://user:password@mail.example:587',
  GOOGLE_APPLICATION_CREDENTIALS: '/secrets/sa.json',
  API_TOKENS: 'ops:admin:very-secret',
  TEMPORAL_ADDRESS: '10.0.0.1:7233',
};

/** A model program (code from a repository) runs with the worker's rights but none of its environment. */
describe('model programs run with a minimal environment', () => {
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    dir = testTempDir('model-env');
    mkdirSync(join(dir, 'models'), { recursive: true });
    writeFileSync(join(dir, 'models', 'env.py'), 'import json, os\nprint(json.dumps(dict(os.environ)))\n');
    for (const [name, value] of Object.entries(SECRETS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('sees PATH, HOME, TMPDIR and its locale, and none of the worker’s credentials', async () => {
    // The project's .venv Python, as the worker runs it (a pyenv shim would add its own variables).
    const deps = {
      projectDir: dir,
      python: join(projectRoot, '.venv', 'bin', 'python'),
    } as unknown as KindDeps;
    const output = await runModel(deps, 'models/env.py', [], new AbortController().signal);
    const env = JSON.parse(output) as Record<string, string>;
    for (const name of Object.keys(SECRETS)) expect(env[name], name).toBeUndefined();
    expect(JSON.stringify(env)).not.toMatch(/password|very-secret|sa\.json/);
    expect(env.HOME).toBe(dir);
    expect(env.PATH).toBeTruthy();
    // Only what the program needs (python may add a few of its own, e.g. LC_CTYPE).
    expect(
      Object.keys(env)
        .filter((name) => !/^(LC_|PYTHON|__CF)/.test(name))
        .sort(),
    ).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR']);
  });
});

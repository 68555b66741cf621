import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODEL_PYTHON_COMMAND, modelPython } from '../../activities/model-python';
import { projectRoot } from '../../activities/providers/paths';
import { sshdConfig } from '../../activities/providers/sshd';

describe('MODEL_PYTHON: one Python for the model programs on the worker and the VMs', () => {
  it('takes a command or an absolute path as given and a relative path from the project root', () => {
    expect(modelPython({ MODEL_PYTHON: 'python3.12' })).toBe('python3.12');
    expect(modelPython({ MODEL_PYTHON: '/opt/models-python/bin/python' })).toBe(
      '/opt/models-python/bin/python',
    );
    expect(modelPython({ MODEL_PYTHON: '.venv/bin/python' })).toBe(
      join(projectRoot, '.venv', 'bin', 'python'),
    );
  });

  it('defaults to the project venv that setup installs, else python3', () => {
    const venv = join(projectRoot, '.venv', 'bin', 'python');
    expect(modelPython({ MODEL_PYTHON: '' })).toBe(existsSync(venv) ? venv : 'python3');
  });

  it('reaches local VM sessions through sshd SetEnv, quoted, and training commands through the variable', () => {
    const config = sshdConfig({
      dir: '/vm',
      port: 2222,
      username: 'me',
      home: '/vm/home',
      tmuxDir: '/run/t',
      env: { MODEL_PYTHON: '/a b/"python' },
    });
    expect(config).toContain('SetEnv HOME=/vm/home TMUX_TMPDIR=/run/t "MODEL_PYTHON=/a b/python"');
    expect(MODEL_PYTHON_COMMAND).toBe('"${MODEL_PYTHON:-python3}"');
  });
});

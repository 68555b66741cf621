import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KindDeps } from '../../../activities/kinds/common';

/**
 * The Python that runs the sensor models on the worker: the worker's own setting when it has one,
 * else the project's `.venv` (where scripts/setup.sh installs the pinned scikit-learn), else
 * `python3` from PATH (a production image with the pinned packages installed).
 */
export function modelPython(deps: KindDeps): string {
  if (deps.python) return deps.python;
  const venv = join(resolve(deps.projectDir ?? join(__dirname, '..', '..', '..')), '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

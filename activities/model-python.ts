import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Config } from '../config';
import { projectRoot, venvBin } from './providers/paths';

/** The shell word a training command starts model programs with, on every VM (see modelPython). */
export const MODEL_PYTHON_COMMAND = '"${MODEL_PYTHON:-python3}"';

/**
 * The Python that runs model programs (`models/*`, which need models/requirements.txt): the one
 * mechanism for the worker (predict, evaluate) and the VMs (training). A machine reads
 * `MODEL_PYTHON`, else runs `python3`:
 *
 * - worker: `MODEL_PYTHON` from the config; empty means the project's `.venv/bin/python` when it
 *   exists (the local stack, which scripts/setup.sh installs), else `python3` (the Docker image,
 *   whose python3 has the libraries);
 * - local VMs: the local provider gives each instance's sessions this same value, standing in for a
 *   machine image whose Python has the libraries;
 * - Compute Engine VMs: their image's `python3` (the production templates install
 *   models/requirements.txt, machine-images/README.md).
 *
 * Never part of a step's spec or cache key: where Python lives is the machine's business.
 */
export function modelPython(config: Pick<Config, 'MODEL_PYTHON'>): string {
  const configured = config.MODEL_PYTHON.trim();
  if (configured) {
    // A bare command (`python3`) is looked up on PATH; a relative path is from the project root.
    return configured.includes('/') && !isAbsolute(configured)
      ? resolve(projectRoot, configured)
      : configured;
  }
  const venv = venvBin('python');
  return existsSync(venv) ? venv : 'python3';
}

import { resolve } from 'node:path';

/** The repository root, found from this file so scripts work from any working directory. */
export const projectRoot = resolve(__dirname, '..', '..');
export const venvBin = (name: string): string => resolve(projectRoot, '.venv', 'bin', name);
export const dataDir = (...parts: string[]): string =>
  resolve(projectRoot, process.env.DATA_DIR ?? '.data', ...parts);

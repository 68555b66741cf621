import { resolve } from 'node:path';

/** The repository root (`dist/` in a production build), found from this file so code works from any working directory. */
export const projectRoot = resolve(__dirname, '..', '..');
export const venvBin = (name: string): string => resolve(projectRoot, '.venv', 'bin', name);
export const dataDir = (...parts: string[]): string =>
  resolve(projectRoot, process.env.DATA_DIR ?? '.data', ...parts);

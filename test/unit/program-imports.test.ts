import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRoot } from '../../activities/code-files';
import { modelProgram, programFolderOf, SHARED_PROGRAM_PATHS } from '../../activities/kinds/program';
import { pipelines } from '../../pipelines/catalog';
import { stepKinds } from '../../workers/kinds';

/**
 * The cache key of a model step covers its model's folder and SHARED_PROGRAM_PATHS (models/lib,
 * models/requirements.txt). That is only true while no program reaches further: these checks read
 * every program under models/ and fail when one puts another folder on sys.path, imports a module
 * of another model, or loads code some other way. Extend SHARED_PROGRAM_PATHS before relaxing them.
 */

const models = join(buildRoot, 'models');
const folders = readdirSync(models).filter((name) => statSync(join(models, name)).isDirectory());
const sources = (folder: string) =>
  readdirSync(join(models, folder))
    .filter((file) => file.endsWith('.py'))
    .map((file) => ({
      file: `models/${folder}/${file}`,
      text: readFileSync(join(models, folder, file), 'utf8'),
    }));
/** Module name → the folders under models/ that hold `<name>.py`. */
const localModules = new Map<string, string[]>();
for (const folder of folders) {
  for (const { file } of sources(folder)) {
    const name = file.slice(file.lastIndexOf('/') + 1, -3);
    localModules.set(name, [...(localModules.get(name) ?? []), folder]);
  }
}
const HERE = String.raw`(HERE|os\.path\.dirname\(os\.path\.abspath\(__file__\)\))`;
/** The two sys.path entries a program may add: its own folder and ../lib. */
const ALLOWED_PATH = new RegExp(
  String.raw`^\s*sys\.path\.insert\(0, (${HERE}|os\.path\.join\(${HERE}, "\.\.", "lib"\))\)\s*$`,
);
const imported = (text: string) =>
  [...text.matchAll(/^\s*(?:from\s+([\w.]+)\s+import\b|import\s+([\w.]+(?:\s*,\s*[\w.]+)*))/gm)].flatMap(
    (match) =>
      (match[1] ?? match[2] ?? '').split(',').map((name) => (name.trim().split('.')[0] ?? '').trim()),
  );

describe('model programs load nothing beyond their folder and the shared paths', () => {
  it('finds the programs and the shared lib', () => {
    expect(folders).toContain('lib');
    expect(folders.length).toBeGreaterThan(5);
    expect(SHARED_PROGRAM_PATHS).toEqual(['lib', 'requirements.txt']);
  });

  it('each program adds only its own folder and ../lib to sys.path, and loads no code another way', () => {
    const problems: string[] = [];
    for (const folder of folders) {
      for (const { file, text } of sources(folder)) {
        text.split('\n').forEach((line, index) => {
          const at = `${file}:${index + 1}`;
          if (/sys\.path\b/.test(line) && !/^\s*#/.test(line) && !ALLOWED_PATH.test(line))
            problems.push(`${at}: ${line.trim()}`);
          if (/\b(importlib|__import__|runpy|exec\s*\(|execfile|imp\.load|site\.addsitedir)/.test(line))
            problems.push(`${at}: ${line.trim()}`);
          if (/["']\.\.["']/.test(line) && !ALLOWED_PATH.test(line)) problems.push(`${at}: ${line.trim()}`);
        });
      }
    }
    expect(problems).toEqual([]);
  });

  it('each program imports local modules only from its own folder or lib', () => {
    const problems: string[] = [];
    for (const folder of folders) {
      for (const { file, text } of sources(folder)) {
        for (const name of imported(text)) {
          const holders = localModules.get(name);
          if (holders && !holders.includes(folder) && !holders.includes('lib'))
            problems.push(`${file} imports ${name} of models/${holders.join(', models/')}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The check sees imports: cli comes from lib, features from sensor-clustering's own folder.
    expect(imported(readFileSync(join(models, 'quality', 'train.py'), 'utf8'))).toContain('cli');
    expect(localModules.get('features')).toEqual(['sensor-clustering']);
  });

  it('every model step of the catalog keys the folder of each script it runs', () => {
    const withProgram = new Map(stepKinds.filter((kind) => kind.program).map((kind) => [kind.name, kind]));
    let checked = 0;
    for (const definition of pipelines.values()) {
      for (const step of definition.steps) {
        if (!withProgram.has(step.kind)) continue;
        const scripts = [...JSON.stringify(step.spec).matchAll(/"(models\/[^"]+\.py)"/g)].map(
          (m) => m[1] as string,
        );
        expect(scripts.length, `${definition.name} ${step.id}`).toBeGreaterThan(0);
        const expected = modelProgram('models', scripts);
        for (const script of scripts) {
          const folder = script.split('/').slice(0, 2).join('/');
          expect(expected.paths).toContain(folder);
          expect(programFolderOf('models', script)).toBe(folder);
        }
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('a script outside a model folder keys more, never less', () => {
    expect(programFolderOf('models', 'models/train.py')).toBe('models');
    expect(programFolderOf('models', '../etc/passwd')).toBe('models');
    expect(programFolderOf('models', '--help')).toBe('models');
    expect(programFolderOf('models', 'tools/run.py')).toBe('tools');
    expect(programFolderOf('models', 'train.py')).toBe('train.py');
    expect(programFolderOf('models', 'models/quality/sub/train.py')).toBe('models/quality');
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';

/** The project's own modules `file` imports (relative specifiers), resolved to files. */
function localImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [
    ...source.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\bimport\s*['"]([^'"]+)['"]/g),
    ...source.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .flatMap((specifier) => {
      const base = resolve(dirname(file), specifier);
      const found = [`${base}.ts`, join(base, 'index.ts'), base].find(
        (candidate) => existsSync(candidate) && candidate.endsWith('.ts'),
      );
      return found ? [found] : [];
    });
}

/** Every module of the project the entry loads, with the built-in modules each imports. */
function moduleGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (graph.has(file)) continue;
    const source = readFileSync(file, 'utf8');
    graph.set(
      file,
      [...source.matchAll(/['"](node:[a-z_/]+|child_process)['"]/g)].map((match) => match[1]!),
    );
    pending.push(...localImports(file));
  }
  return graph;
}

// The audit: a dry run ran `git ls-remote` with the caller's models_repo in the API process. The API
// now asks the worker to plan (the planPipeline workflow): nothing the API process loads can start a
// process, so no parameter can become a command there.
describe('the API process runs no program', () => {
  it('loads no module that can spawn a process (no child_process, no git, no plan code)', () => {
    const graph = moduleGraph(join(projectRoot, 'api', 'main.ts'));
    const files = [...graph.keys()].map((file) => relative(projectRoot, file));
    // The walk reaches the whole API (controllers, services, the catalog of pipelines it validates against).
    expect(files).toEqual(
      expect.arrayContaining(['api/app.ts', 'api/runs/runs.service.ts', 'pipelines/index.ts']),
    );
    expect(files.length).toBeGreaterThan(40);
    const spawning = [...graph].filter(([, builtins]) =>
      builtins.some((name) => name === 'node:child_process' || name === 'child_process'),
    );
    expect(spawning.map(([file]) => relative(projectRoot, file))).toEqual([]);
    expect(files).not.toContain('activities/plan.ts');
    expect(files).not.toContain('activities/code-files.ts');
  });

  it('sees a process-spawning import where there is one (the walk is not blind)', () => {
    const graph = moduleGraph(join(projectRoot, 'activities', 'plan.ts'));
    expect(graph.get(join(projectRoot, 'activities', 'plan.ts'))).toContain('node:child_process');
    expect([...graph.keys()].map((file) => relative(projectRoot, file))).toContain(
      'activities/code-files.ts',
    );
  });
});

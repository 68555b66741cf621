import type { StepDefinition } from './types';

/** Pure graph helpers over steps (`id` + `after`), shared by validation, planning and the workflow. */
type Node = Pick<StepDefinition, 'id' | 'after'>;

/** A dependency cycle as `[a, b, c, a]`, or undefined. Unknown dependencies are ignored here. */
export function findCycle(steps: Node[]): string[] | undefined {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const dependency of byId.get(id)?.after ?? []) {
      if (!byId.has(dependency)) continue;
      const found = visit(dependency);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of steps) {
    const found = visit(step.id);
    // Found by walking dependencies, so reverse it to read in execution order.
    if (found) return found.reverse();
  }
  return undefined;
}

/** Every step that `id` depends on, directly or not. */
export function ancestors(steps: Node[], id: string): Set<string> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const seen = new Set<string>();
  const stack = [...(byId.get(id)?.after ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.after ?? []));
  }
  return seen;
}

/** Steps sorted so each comes after its dependencies, keeping declaration order otherwise. */
export function topologicalOrder<T extends Node>(steps: T[]): T[] {
  const done = new Set<string>();
  const ordered: T[] = [];
  while (ordered.length < steps.length) {
    const next = steps.find((step) => !done.has(step.id) && step.after.every((id) => done.has(id)));
    if (!next) throw new Error('steps form a cycle'); // validatePipeline reports it with names first
    done.add(next.id);
    ordered.push(next);
  }
  return ordered;
}

/** `id` and every step that depends on it, directly or not. */
export function downstreamOf(steps: Node[], id: string): Set<string> {
  const result = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const step of steps) {
      if (!result.has(step.id) && step.after.some((dependency) => result.has(dependency))) {
        result.add(step.id);
        grew = true;
      }
    }
  }
  return result;
}

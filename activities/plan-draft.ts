import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { JsonValue } from '../pipelines/core/types';
import { RunnerErrorType } from '../workflows/definitions';
import type { StepKindDeclaration } from './kinds/kind';

const ITEM_TEMPLATE = /\{\{\s*item\b/;
/** A map step's `{{item…}}` field: filled per item when the item runs. */
export const isItemTemplate = (value: unknown): boolean =>
  typeof value === 'string' && ITEM_TEMPLATE.test(value);
export const valueAt = (value: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>(
    (at, key) =>
      at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined,
    value,
  );

/**
 * The spec the kind's `reads` and `program` see when the plan keys a step: `draft` (the resolved
 * spec, step references as placeholders) parsed by the kind's schema. A map step's `{{item…}}`
 * fields may not fit the schema before the item fills them; such fields are left out (every other
 * field parsed, defaults filled), so a map step's files and program are keyed like any step's. The
 * view refuses to be read at a left-out field: a program or file chosen per item cannot be keyed
 * when the run is planned, so the plan fails naming the field instead of keying without it.
 * Undefined when the draft fails for another reason (the plan's spec check reports it).
 */
export function keyedSpec(stepId: string, kind: StepKindDeclaration, draft: JsonValue): object | undefined {
  const parsed = kind.spec.safeParse(draft);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  if (!issues.every((issue) => isItemTemplate(valueAt(draft, issue.path)))) return undefined;
  if (!kind.reads && !kind.program) return undefined;
  const left = new Set(issues.map((issue) => String(issue.path[0])));
  const cannot = (field: string) =>
    ApplicationFailure.create({
      type: RunnerErrorType.InvalidStepSpec,
      message: `step ${stepId}: spec.${field} comes from the map item, and the files or program of kind ${kind.name} depend on it: they cannot be keyed when the run is planned`,
      nonRetryable: true,
    });
  const rest = Object.fromEntries(
    Object.entries(draft as Record<string, JsonValue>).filter(([key]) => !left.has(key)),
  );
  const partial = kind.spec instanceof z.ZodObject ? kind.spec.partial().safeParse(rest) : undefined;
  if (!partial?.success) throw cannot([...left].join(', spec.'));
  return new Proxy(partial.data as object, {
    get(target, key, receiver) {
      if (typeof key === 'string' && left.has(key)) throw cannot(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

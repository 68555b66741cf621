import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import type { JsonPrimitive, ParameterDefinition, PipelineDefinition } from './types';

export interface ParameterProblem {
  parameter: string;
  message: string;
}

export class ParameterError extends Error {
  override readonly name = 'ParameterError';
  constructor(
    readonly pipeline: string,
    readonly problems: ParameterProblem[],
  ) {
    super(`pipeline ${pipeline}: ${problems.map((problem) => problem.message).join('; ')}`);
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `value` is a duration Temporal accepts (`'5 hours'`, `'90s'`, `'2 days'`): what `msToNumber` parses. */
export function isDuration(value: unknown): value is string {
  if (typeof value !== 'string' || value.trim() === '') return false;
  try {
    const ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
    return Number.isFinite(ms) && ms >= 0;
  } catch {
    return false;
  }
}

/** A duration string, e.g. in a kind's spec schema; the message names the bad value. */
export const durationSchema = z.string().refine(isDuration, {
  error: (issue) => `invalid duration ${JSON.stringify(issue.input)} (expected e.g. "5 hours", "90 seconds")`,
});

/** The zod schema of one declared parameter; strings from a CLI or query string are coerced. */
export function parameterSchema(parameter: ParameterDefinition): z.ZodType<JsonPrimitive> {
  const base: z.ZodType<JsonPrimitive> =
    parameter.type === 'number'
      ? z.coerce.number()
      : parameter.type === 'boolean'
        ? z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
        : parameter.type === 'date'
          ? z.string().regex(DATE, 'expected a date YYYY-MM-DD')
          : parameter.type === 'duration'
            ? durationSchema
            : z.string();
  const choices = parameter.choices;
  const ranged = parameter.type === 'number' ? withRange(base, parameter) : base;
  if (!choices) return ranged;
  return ranged.refine((value) => choices.includes(value), {
    message: `expected one of ${choices.map((choice) => JSON.stringify(choice)).join(', ')}`,
  });
}

/** A number parameter's `min`/`max` (inclusive); the message states the range and the value given. */
function withRange(base: z.ZodType<JsonPrimitive>, parameter: ParameterDefinition): z.ZodType<JsonPrimitive> {
  const { min, max } = parameter;
  if (min === undefined && max === undefined) return base;
  const range =
    min !== undefined && max !== undefined
      ? `between ${min} and ${max}`
      : min !== undefined
        ? `at least ${min}`
        : `at most ${max}`;
  return base.refine(
    (value) =>
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (min === undefined || value >= min) &&
      (max === undefined || value <= max),
    { error: (issue) => `expected a number ${range}, got ${JSON.stringify(issue.input)}` },
  );
}

/**
 * Fills defaults and checks a run's parameters against the definition. Throws a ParameterError that
 * names every unknown, missing or invalid parameter.
 */
export function resolveParameters(
  definition: Pick<PipelineDefinition, 'name' | 'parameters'>,
  given: Record<string, unknown> = {},
): Record<string, JsonPrimitive> {
  const problems: ParameterProblem[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(definition.parameters, name)) {
      problems.push({ parameter: name, message: `unknown parameter ${name}` });
    }
  }
  const resolved: Record<string, JsonPrimitive> = {};
  for (const [name, parameter] of Object.entries(definition.parameters)) {
    const value = (Object.hasOwn(given, name) ? given[name] : undefined) ?? parameter.default;
    if (value === undefined) {
      problems.push({ parameter: name, message: `missing parameter ${name} (no default)` });
      continue;
    }
    const parsed = parameterSchema(parameter).safeParse(value);
    if (parsed.success) resolved[name] = parsed.data;
    else {
      const reason = parsed.error.issues.map((issue) => issue.message).join(', ');
      problems.push({ parameter: name, message: `parameter ${name}: ${reason}` });
    }
  }
  if (problems.length > 0) throw new ParameterError(definition.name, problems);
  return resolved;
}

import type { z } from 'zod';

/** `spec.models[0].artifact`: the path of a zod issue inside a step's spec. */
export function specPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : `${text}.${String(part)}`),
    'spec',
  );
}

/** One message naming the step and every bad field: `step quality.train: spec.maxDuration: invalid duration "5 hourz"`. */
export function specProblem(step: string, error: z.ZodError): string {
  const problems = error.issues.map((issue) => {
    const where = specPath(issue.path);
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => `${where}.${key}`) : [];
    return keys.length > 0 ? `${keys.join(', ')}: unknown field` : `${where}: ${issue.message}`;
  });
  return `step ${step}: ${problems.join('; ')}`;
}

import type { JsonValue } from './types';

/**
 * `{{name}}` templates inside step specs. Names are a declared parameter, a built-in (`cutoff`,
 * `pipeline`), or an upstream step's output (`steps.<id>.<output>`). Step references are filled in
 * after cache keys are computed, so a key depends on upstream keys, never on where outputs live.
 */
const TEMPLATE = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

export const BUILTIN_TEMPLATE_NAMES = ['cutoff', 'pipeline'] as const;

export interface StepReference {
  step: string;
  output: string;
}

/** Every template name used anywhere inside a JSON value. */
export function templateNames(value: JsonValue | undefined): string[] {
  const names: string[] = [];
  visitStrings(value, (text) => {
    for (const match of text.matchAll(TEMPLATE)) names.push(match[1] as string);
  });
  return names;
}

/** Splits `steps.<id>.<output>`; the id itself contains dots, the output name does not. */
export function parseStepReference(name: string): StepReference | undefined {
  if (!name.startsWith('steps.')) return undefined;
  const rest = name.slice('steps.'.length);
  const lastDot = rest.lastIndexOf('.');
  if (lastDot <= 0 || lastDot === rest.length - 1) return undefined;
  return { step: rest.slice(0, lastDot), output: rest.slice(lastDot + 1) };
}

/**
 * Replaces the templates `lookup` knows; others are left as they are (so step references survive the
 * first pass). A string that is exactly one template takes the value's type (`"{{epochs}}"` → 10).
 */
export function fillTemplates<T extends JsonValue>(
  value: T,
  lookup: (name: string) => JsonValue | undefined,
): T {
  return mapStrings(value, (text) => {
    const whole = /^\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}$/.exec(text);
    if (whole) {
      const found = lookup(whole[1] as string);
      return found === undefined ? text : found;
    }
    return text.replace(TEMPLATE, (match, name: string) => {
      const found = lookup(name);
      return found === undefined ? match : typeof found === 'string' ? found : JSON.stringify(found);
    });
  }) as T;
}

function visitStrings(value: JsonValue | undefined, visit: (text: string) => void): void {
  if (typeof value === 'string') visit(value);
  else if (Array.isArray(value)) value.forEach((item) => visitStrings(item, visit));
  else if (value !== null && typeof value === 'object')
    Object.values(value).forEach((v) => visitStrings(v, visit));
}

function mapStrings(value: JsonValue, map: (text: string) => JsonValue): JsonValue {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, mapStrings(v, map)]));
  }
  return value;
}

import { Transform } from 'class-transformer';
import { registerDecorator, ValidateIf, type ValidationOptions } from 'class-validator';

/** A calendar day `YYYY-MM-DD` that exists (not `2026-02-30`). */
export const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export function isDay(value: unknown): value is string {
  if (typeof value !== 'string' || !DAY_PATTERN.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** class-validator: a day that exists, with the message `<field> must be a date YYYY-MM-DD`. */
export function IsDay(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isDay',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `${String(propertyName)} must be a date YYYY-MM-DD`, ...options },
      validator: { validate: isDay },
    });
}

/** Durations as run parameters take them (`90s`, `5 hours`, `2 days`): a subset of what Temporal parses. */
export const DURATION_PATTERN =
  /^\d{1,6}(\.\d{1,3})? ?(ms|s|m|h|d|milliseconds?|seconds?|minutes?|hours?|days?)$/;

/**
 * A regex alternation of the whole numbers lo..hi, spelled out: longer than character classes, but
 * a fuzzer generates strings from it many times faster.
 */
export function numberRange(lo: number, hi: number): string {
  return `(${Array.from({ length: hi - lo + 1 }, (_, i) => lo + i).join('|')})`;
}

const STEP = '(/[1-9][0-9]?)?';

/** One cron field over lo..hi: up to 6 comma-separated `*`, `*\/step`, `n`, `a-b` (a ≤ b) or `a-b/step`. */
function cronField(lo: number, hi: number): string {
  const ranges: string[] = [];
  for (let a = lo; a <= hi; a++) ranges.push(`${a}-${numberRange(a, hi)}`);
  const item = `(\\*${STEP}|(${ranges.join('|')})${STEP}|${numberRange(lo, hi)})`;
  return `${item}(,${item}){0,5}`;
}

/**
 * A five-field cron expression (minute hour day-of-month month day-of-week) of numbers in range,
 * `*`, ranges (start ≤ end), lists and steps: what the API accepts for a schedule, so every
 * expression the OpenAPI document allows is one Temporal takes.
 */
export const CRON_PATTERN = new RegExp(
  `^${[cronField(0, 59), cronField(0, 23), cronField(1, 31), cronField(1, 12), cronField(0, 6)].join(' ')}$`,
);

/** IANA time zones (what Node knows; Temporal's zone database has them all). */
export const TIME_ZONES: readonly string[] = ['UTC', ...Intl.supportedValuesOf('timeZone')].filter(
  (zone, index, all) => all.indexOf(zone) === index,
);

/**
 * An optional property: absent is fine, `null` is not (class-validator's IsOptional lets null through,
 * which the OpenAPI document does not allow).
 */
export const Optional = (): PropertyDecorator => ValidateIf((_object, value) => value !== undefined);

/**
 * Keeps a free-form object (run parameters) exactly as parsed: class-transformer's copy drops keys
 * that objects inherit (`constructor`, `toString`…), so `{"toString": 1}` would arrive as `{}` and
 * pass as "no parameters" instead of being refused as an unknown parameter.
 */
export const AsParsed = (): PropertyDecorator =>
  Transform(({ obj, key }) => (obj as Record<string, unknown>)[key], { toClassOnly: true });

/**
 * Map steps (docs/map-steps.md): pure helpers shared by validation, the plan activity and the
 * workflow (no I/O, no Node built-ins, deterministic).
 */
import { MAP_CHILD_ITEMS, MAX_MAP_CONCURRENCY, MAX_MAP_ITEMS } from './limits';
import { fillTemplates } from './templates';
import type { JsonValue, MapDefinition, StepDefinition } from './types';

/** `{{item}}` or `{{item.<field>[.<field>…]}}`. */
export const isItemTemplate = (name: string): boolean => name === 'item' || name.startsWith('item.');

const PARAM_SOURCE = /^\{\{\s*([a-z][a-z0-9_]*)\s*\}\}$/;
const PERCENT = /^(\d{1,3}(?:\.\d+)?)%$/;

/** The parameter a `'{{param}}'` source names, or undefined for another form. */
export function sourceParameter(source: MapDefinition['forEach']): string | undefined {
  return typeof source === 'string' ? PARAM_SOURCE.exec(source)?.[1] : undefined;
}

/** Problems of a step's `map` (and `eachBatch`) settings, as messages. */
export function mapProblems(step: StepDefinition, steps: StepDefinition[]): string[] {
  const problems: string[] = [];
  const bad = (message: string) => problems.push(`step ${step.id}: ${message}`);
  if (step.eachBatch) {
    const maps = step.after.filter((id) => steps.find((other) => other.id === id)?.map);
    if (maps.length !== 1)
      bad(`eachBatch needs exactly one map step in after (found ${maps.length ? maps.join(', ') : 'none'})`);
    if (step.map) bad('a map step cannot also be eachBatch');
  }
  const map = step.map;
  if (!map) return problems;
  if (step.kind === 'gate') bad('a gate runs nothing; it cannot be a map step');
  if (step.approval !== false) bad('a map step cannot need approval (put a gate before it)');
  if (step.cleanup) bad('a cleanup step cannot be a map step');
  const source = map.forEach;
  if (Array.isArray(source)) {
    if (source.length > MAX_MAP_ITEMS)
      bad(`map.forEach has ${source.length} items; at most ${MAX_MAP_ITEMS}`);
  } else if (typeof source === 'string') {
    if (!sourceParameter(source))
      bad(`map.forEach "${source}" must be a JSON array, "{{param}}" or { step, field }`);
  } else if (source === null || typeof source !== 'object') {
    bad('map.forEach must be a JSON array, "{{param}}" or { step, field }');
  } else if (typeof source.step !== 'string' || typeof source.field !== 'string' || !source.field) {
    bad('map.forEach { step, field } needs a step id and a field name');
  } else if (!step.after.includes(source.step)) {
    bad(`map.forEach reads step ${source.step}, which is not in its after`);
  }
  if (!isIntegerIn(map.maxConcurrency, 1, MAX_MAP_CONCURRENCY))
    bad(
      `map.maxConcurrency ${JSON.stringify(map.maxConcurrency)} must be an integer from 1 to ${MAX_MAP_CONCURRENCY}`,
    );
  if (typeof map.minSuccessRatio !== 'number' || !(map.minSuccessRatio >= 0 && map.minSuccessRatio <= 1))
    bad(`map.minSuccessRatio ${JSON.stringify(map.minSuccessRatio)} must be a number from 0 to 1`);
  if (!validBatchSize(map.batchSize))
    bad(`map.batchSize ${JSON.stringify(map.batchSize)} must be a positive integer or a share like "20%"`);
  return problems;
}

const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

function validBatchSize(value: unknown): boolean {
  if (typeof value === 'number') return isIntegerIn(value, 1, MAX_MAP_ITEMS);
  const share = typeof value === 'string' ? PERCENT.exec(value) : null;
  return share !== null && Number(share[1]) > 0 && Number(share[1]) <= 100;
}

/** Items per batch for `total` items: a number as is, a share rounded up, at least 1. */
export function batchSizeFor(batchSize: number | string, total: number): number {
  if (typeof batchSize === 'number') return Math.max(1, batchSize);
  const share = Number(PERCENT.exec(batchSize)?.[1] ?? 100);
  return Math.max(1, Math.ceil((total * share) / 100));
}

/** Item ranges `[start, end)` of the batches, then of the child workflows within each batch. */
export function batchRanges(total: number, batchSize: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < total; start += batchSize)
    ranges.push([start, Math.min(total, start + batchSize)]);
  return ranges;
}

export const childRanges = (start: number, end: number): Array<[number, number]> =>
  batchRanges(end - start, MAP_CHILD_ITEMS).map(([a, b]) => [start + a, start + b]);

/**
 * The items of a `'{{param}}'` source: a JSON array, or a comma-separated list of strings (trimmed,
 * empty entries dropped). Throws an Error naming the parameter when the value is neither.
 */
export function parseListParameter(name: string, value: JsonValue | undefined): JsonValue[] {
  if (typeof value !== 'string')
    throw new Error(`map.forEach parameter ${name} must be a string list, got ${JSON.stringify(value)}`);
  const text = value.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`map.forEach parameter ${name} starts with [ but is not a JSON array`);
    }
    if (!Array.isArray(parsed)) throw new Error(`map.forEach parameter ${name} is not a JSON array`);
    return parsed as JsonValue[];
  }
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/** Fills `{{item}}` and `{{item.<field>}}` in a map step's spec; other templates stay. */
export function fillItemTemplates<T extends JsonValue>(spec: T, item: JsonValue): T {
  return fillTemplates(spec, (name) => {
    if (name === 'item') return item;
    if (!name.startsWith('item.')) return undefined;
    let value: JsonValue | undefined = item;
    for (const field of name.slice('item.'.length).split('.')) {
      value =
        value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, field)
          ? value[field]
          : undefined;
      if (value === undefined) throw new Error(`item ${shortJson(item)} has no field ${name.slice(5)}`);
    }
    return value;
  });
}

/** JSON with sorted keys, so equal items give equal keys. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * An item's cache key: 32 hex digits from the step's key and the item's canonical JSON (four
 * independently seeded 32-bit multiplicative hashes; deterministic and Node-free, so workflow code
 * computes it). Not cryptographic: it separates items of one step, and the step key already names
 * the code, spec and upstream keys.
 */
export function itemCacheKey(stepKey: string, item: JsonValue): string {
  const text = `${stepKey}\u0000${canonicalJson(item)}`;
  const seeds = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];
  return seeds
    .map((seed) => {
      let h = seed ^ text.length;
      for (let i = 0; i < text.length; i++) {
        h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
        h ^= h >>> 15;
      }
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      return ((h ^ (h >>> 16)) >>> 0).toString(16).padStart(8, '0');
    })
    .join('');
}

/** An item's physical output names: the step's, suffixed with the item's key (8 hex digits). */
export const itemOutputs = (outputs: Record<string, string>, itemKey: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(outputs).map(([name, value]) => [name, `${value}_i${itemKey.slice(0, 8)}`]),
  );

/** A short JSON rendering of an item, for messages and status. */
export function shortJson(item: JsonValue, max = 120): string {
  const text = JSON.stringify(item) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

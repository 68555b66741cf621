import { VmErrorType, vmFailure } from './errors';

// Compute Engine's rules, applied by both providers so a spec that works locally also works on GCE.
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/** Label a provider puts on a persistent instance, so a delete (e.g. by the reaper) only stops it. */
export const PERSISTENT_LABEL = 'persistent';

/** Fails with `VM_INVALID_SPEC` unless `name` is a valid instance name. */
export function assertVmName(name: string): void {
  if (!NAME.test(name))
    throw vmFailure(
      VmErrorType.VM_INVALID_SPEC,
      `invalid instance name ${JSON.stringify(name)}: lowercase letters, digits and dashes, starting with a letter, at most 63 characters`,
      { name },
    );
}

/** Fails with `VM_INVALID_SPEC` naming the first label that Compute Engine would refuse. */
export function assertLabels(labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > 64) throw vmFailure(VmErrorType.VM_INVALID_SPEC, 'more than 64 labels', { labels });
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value))
      throw vmFailure(
        VmErrorType.VM_INVALID_SPEC,
        `invalid label ${key}=${JSON.stringify(value)}: lowercase letters, digits, '_' and '-', at most 63 characters (use toLabelValue)`,
        { key, value },
      );
  }
}

/** Turns any string (a run id, a step id) into a valid label value, e.g. `visits-scaling/2026Q4` → `visits-scaling_2026q4`. */
export function toLabelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);
}

/** True when `have` carries every label of `want` with the same value. */
export function hasLabels(have: Record<string, string>, want: Record<string, string> = {}): boolean {
  return Object.entries(want).every(([key, value]) => have[key] === value);
}

/** A Compute Engine list filter matching every given label (space-separated terms are ANDed). */
export function labelFilter(labels: Record<string, string> = {}): string | undefined {
  const terms = Object.entries(labels).map(([key, value]) => `(labels.${key} = ${JSON.stringify(value)})`);
  return terms.length ? terms.join(' ') : undefined;
}

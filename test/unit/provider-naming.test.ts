import type { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { VmErrorType } from '../../activities/providers/errors';
import {
  assertLabels,
  assertVmName,
  hasLabels,
  labelFilter,
  toLabelValue,
} from '../../activities/providers/naming';

function thrown(fn: () => void): ApplicationFailure {
  try {
    fn();
  } catch (error) {
    return error as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

describe('VM naming rules (Compute Engine rules, applied by both providers)', () => {
  it('accept valid instance names and refuse others with VM_INVALID_SPEC', () => {
    expect(() => assertVmName('rt-visits-scaling-2026q4-quality-train')).not.toThrow();
    for (const bad of ['', 'Upper', '1starts-with-digit', 'ends-with-dash-', 'under_score', 'a'.repeat(64)]) {
      const failure = thrown(() => assertVmName(bad));
      expect(failure.type).toBe(VmErrorType.VM_INVALID_SPEC);
      expect(failure.nonRetryable).toBe(true);
    }
  });

  it('refuse labels Compute Engine would refuse, naming the label', () => {
    expect(() => assertLabels({ run_id: 'visits-scaling_2026q4', step: '' })).not.toThrow();
    expect(thrown(() => assertLabels({ run_id: 'Visits/2026' })).message).toContain('run_id');
    expect(thrown(() => assertLabels({ '1key': 'x' })).type).toBe(VmErrorType.VM_INVALID_SPEC);
  });

  it('turn any id into a valid label value', () => {
    expect(toLabelValue('visits-scaling/2026Q4')).toBe('visits-scaling_2026q4');
    expect(toLabelValue('x'.repeat(80))).toHaveLength(63);
    expect(() => assertLabels({ run_id: toLabelValue('Ünïcode run #7') })).not.toThrow();
  });

  it('match and filter by all given labels', () => {
    expect(hasLabels({ run_id: 'r1', step: 's' }, { run_id: 'r1' })).toBe(true);
    expect(hasLabels({ run_id: 'r1' }, { run_id: 'r1', step: 's' })).toBe(false);
    expect(hasLabels({}, {})).toBe(true);
    expect(labelFilter({ run_id: 'r1', step: 'train' })).toBe(
      '(labels.run_id = "r1") (labels.step = "train")',
    );
    expect(labelFilter({})).toBeUndefined();
  });
});

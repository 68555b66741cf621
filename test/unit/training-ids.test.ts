import { describe, expect, it } from 'vitest';
import { trainingIds } from '../../activities/kinds/training';

describe('training ids', () => {
  it('give each item of a map step its own VM and run folder, and keep a plain step’s ids', () => {
    const base = { workflowId: 'demand-forecast/weekly', step: { id: 'train' } as never, attempt: 1 };
    const ids = [0, 1, 2].map((index) => trainingIds({ ...base, item: { index, key: 'k', value: index } }));
    expect(new Set(ids.map((id) => id.trainingId)).size).toBe(3);
    expect(new Set(ids.map((id) => id.vmName)).size).toBe(3);
    expect(ids.every((id) => id.vmName.length <= 63 && /^[a-z0-9-]+$/.test(id.vmName))).toBe(true);
    expect(trainingIds(base).trainingId).toMatch(/^train-[0-9a-f]{8}-1$/);
  });
});

import { describe, expect, it } from 'vitest';
import { PRICES, type PriceTable } from '../../config/prices';
import {
  closeInterval,
  estimateCost,
  openInterval,
  usageHours,
  vmCost,
  type VmUsage,
} from '../../workflows/cost';
import { ownerLabels, ownerOf } from '../../workflows/vm-labels';
import { assertLabels } from '../../activities/providers/naming';

const table: PriceTable = {
  currency: 'USD',
  machineTypes: { 'n1-standard-8': 0.4, 'n1-standard-4': 0.2 },
  accelerators: { 'nvidia-tesla-t4': 0.35 },
  machineImages: { 'cpu-image': { machineType: 'n1-standard-4' } },
};
const at = (hours: number) => new Date(Date.UTC(2026, 11, 1) + hours * 3_600_000).toISOString();

describe('VM hours and cost (workflows/cost.ts)', () => {
  it('sums the running intervals of a VM; an open one counts until now', () => {
    const usage = { intervals: [{ start: at(0), end: at(2) }, { start: at(5) }] };
    expect(usageHours(usage, Date.parse(at(6.5)))).toBeCloseTo(3.5, 9);
  });

  it('prices hours × (machine type + accelerators × count), from the spec or else the machine image', () => {
    const gpu: VmUsage = {
      vmName: 'gpu',
      machineType: 'n1-standard-8',
      accelerator: { type: 'nvidia-tesla-t4', count: 2 },
      intervals: [{ start: at(0), end: at(3) }],
    };
    expect(vmCost(gpu, 0, table)).toEqual({
      vmName: 'gpu',
      machineType: 'n1-standard-8',
      accelerator: { type: 'nvidia-tesla-t4', count: 2 },
      hours: 3,
      hourlyUsd: 1.1,
      usd: 3.3,
    });
    const cpu: VmUsage = {
      vmName: 'cpu',
      machineImage: 'cpu-image',
      intervals: [{ start: at(0), end: at(1.5) }],
    };
    expect(vmCost(cpu, 0, table)).toMatchObject({ machineType: 'n1-standard-4', hours: 1.5, usd: 0.3 });
    const run = estimateCost([gpu, cpu], 0, table);
    expect(run).toMatchObject({ currency: 'USD', vmHours: 4.5, usd: 3.6 });
    expect(run.unpriced).toBeUndefined();
  });

  it('names what the table does not know instead of guessing, counting it as zero', () => {
    const odd: VmUsage = {
      vmName: 'odd',
      machineType: 'n9-ultra-1',
      accelerator: { type: 'tpu-x', count: 1 },
      intervals: [{ start: at(0), end: at(1) }],
    };
    const bare: VmUsage = { vmName: 'bare', intervals: [{ start: at(0), end: at(1) }] };
    const cost = estimateCost([odd, bare], 0, table);
    expect(cost).toMatchObject({ vmHours: 2, usd: 0 });
    expect(cost.unpriced).toEqual([
      'machine type n9-ultra-1',
      'accelerator tpu-x',
      'machine type of bare (unknown)',
    ]);
    // Hostile names are data, never keys of the object's prototype.
    const proto: VmUsage = {
      vmName: 'p',
      machineType: '__proto__',
      machineImage: 'constructor',
      intervals: [],
    };
    expect(vmCost(proto, 0, table)).toMatchObject({ hourlyUsd: 0, unpriced: ['machine type __proto__'] });
  });

  it('opens one interval per provision and closes it at teardown, a persistent VM getting one per start', () => {
    const usages: VmUsage[] = [];
    openInterval(usages, { name: 'nb', persistent: true, machineType: 'n1-standard-4' }, at(0));
    openInterval(usages, { name: 'nb', persistent: true }, at(0.5)); // still running: no new interval
    closeInterval(usages, 'nb', at(1));
    closeInterval(usages, 'nb', at(9)); // already closed: unchanged
    openInterval(usages, { name: 'nb', persistent: true }, at(2));
    closeInterval(usages, 'nb', at(4));
    expect(usages).toEqual([
      {
        vmName: 'nb',
        machineType: 'n1-standard-4',
        persistent: true,
        intervals: [
          { start: at(0), end: at(1) },
          { start: at(2), end: at(4) },
        ],
      },
    ]);
    expect(estimateCost(usages, 0, table)).toMatchObject({ vmHours: 3, usd: 0.6 });
  });

  it('the shipped price table prices the pipelines’ machine types, accelerators and images', () => {
    expect(PRICES.machineTypes['n1-standard-8']).toBeGreaterThan(0);
    expect(PRICES.machineTypes['n1-highmem-8']).toBeGreaterThan(0);
    expect(PRICES.accelerators['nvidia-tesla-t4']).toBeGreaterThan(0);
    for (const image of Object.values(PRICES.machineImages))
      expect(PRICES.machineTypes[image.machineType ?? '']).toBeGreaterThan(0);
  });
});

describe('owner labels (workflows/vm-labels.ts)', () => {
  it.each([
    'visits-scaling/2026q4/quality.train/1',
    `it's "quoted" --force; rm -rf / $(x)`,
    'ünïcödé/名前/🙂',
    'a'.repeat(1000),
  ])('round-trips %#: valid Compute Engine labels that decode to the same id', (id) => {
    const labels = ownerLabels(id);
    expect(() => assertLabels({ run_id: 'x', ...labels })).not.toThrow();
    expect(ownerOf({ run_id: 'x', ...labels })).toBe(id);
  });

  it('gives no labels for an id too long to fit, and no owner for damaged labels', () => {
    expect(ownerLabels('x'.repeat(5000))).toEqual({});
    const labels = ownerLabels('run/step/1');
    expect(ownerOf({ ...labels, rt_wf_n: '2' })).toBeUndefined();
    expect(ownerOf({ ...labels, rt_wf_0: 'zz' })).toBeUndefined();
    expect(ownerOf({ rt_wf_n: '1', rt_wf_0: '25' })).toBeUndefined(); // "%" alone is not an encoding
    expect(ownerOf({})).toBeUndefined();
  });
});

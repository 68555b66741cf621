// VM hours and estimated cost of trainings. Pure functions over what `trainOnVm` records (each VM's
// running intervals, in workflow time) and the price table of config/prices.ts, so the workflows,
// the API and the demo compute the same figures. No workflow APIs here.
import { acceleratorPrice, machineTypePrice, PRICES, type PriceTable } from '../config/prices';

/** One stretch of time a VM ran for a training: from the provision request until its teardown returned. */
export interface VmInterval {
  start: string;
  /** Absent while the VM runs. */
  end?: string;
}

/** What one VM of a training is and when it ran. */
export interface VmUsage {
  vmName: string;
  machineImage?: string;
  machineType?: string;
  accelerator?: { type: string; count: number };
  persistent?: boolean;
  intervals: VmInterval[];
}

export interface VmCost {
  vmName: string;
  /** The machine type priced (the spec's, else the machine image's in the price table). */
  machineType?: string;
  accelerator?: { type: string; count: number };
  hours: number;
  /** Price per hour of the machine type plus its accelerators, from the known parts. */
  hourlyUsd: number;
  usd: number;
  /** Parts the price table does not know (`machine type n1-ultra-9`), counted as zero. */
  unpriced?: string[];
}

export interface CostEstimate {
  currency: 'USD';
  vmHours: number;
  usd: number;
  vms: VmCost[];
  /** Parts of any VM that the price table does not know: the estimate is low by their price. */
  unpriced?: string[];
}

const round = (value: number, digits = 6): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Hours a VM ran over its intervals; an open interval counts until `now` (epoch ms). */
export function usageHours(usage: Pick<VmUsage, 'intervals'>, now: number): number {
  let ms = 0;
  for (const interval of usage.intervals) {
    const start = Date.parse(interval.start);
    const end = interval.end === undefined ? now : Date.parse(interval.end);
    if (Number.isFinite(start) && Number.isFinite(end) && end > start) ms += end - start;
  }
  return ms / 3_600_000;
}

/** The cost of one VM: hours × (machine type + accelerators), from the spec or its machine image. */
export function vmCost(usage: VmUsage, now: number, table: PriceTable = PRICES): VmCost {
  const image =
    usage.machineImage && Object.hasOwn(table.machineImages, usage.machineImage)
      ? table.machineImages[usage.machineImage]
      : undefined;
  const machineType = usage.machineType ?? image?.machineType;
  const accelerator = usage.accelerator ?? image?.accelerator;
  const unpriced: string[] = [];
  let hourly = 0;
  if (machineType === undefined) unpriced.push(`machine type of ${usage.vmName} (unknown)`);
  else {
    const price = machineTypePrice(machineType, table);
    if (price === undefined) unpriced.push(`machine type ${machineType}`);
    else hourly += price;
  }
  if (accelerator && accelerator.count > 0) {
    const price = acceleratorPrice(accelerator.type, table);
    if (price === undefined) unpriced.push(`accelerator ${accelerator.type}`);
    else hourly += price * accelerator.count;
  }
  const hours = usageHours(usage, now);
  return {
    vmName: usage.vmName,
    ...(machineType ? { machineType } : {}),
    ...(accelerator ? { accelerator } : {}),
    hours: round(hours),
    hourlyUsd: round(hourly),
    usd: round(hours * hourly),
    ...(unpriced.length ? { unpriced } : {}),
  };
}

/** VM hours and cost of a set of VMs (one training, one step's attempts). */
export function estimateCost(usages: VmUsage[], now: number, table: PriceTable = PRICES): CostEstimate {
  return sumCosts(usages.map((usage) => vmCost(usage, now, table)));
}

/** Adds VM costs (or whole estimates, flattened) into one estimate. */
export function sumCosts(costs: VmCost[]): CostEstimate {
  const unpriced = [...new Set(costs.flatMap((cost) => cost.unpriced ?? []))];
  return {
    currency: 'USD',
    vmHours: round(costs.reduce((sum, cost) => sum + cost.hours, 0)),
    usd: round(costs.reduce((sum, cost) => sum + cost.usd, 0)),
    vms: costs,
    ...(unpriced.length ? { unpriced } : {}),
  };
}

/** Records that a VM started running (a provision request), opening an interval unless one is open. */
export function openInterval(
  usages: VmUsage[],
  spec: Omit<VmUsage, 'intervals' | 'vmName'> & { name: string },
  at: string,
): void {
  let usage = usages.find((candidate) => candidate.vmName === spec.name);
  if (!usage) {
    usage = {
      vmName: spec.name,
      ...(spec.machineImage ? { machineImage: spec.machineImage } : {}),
      ...(spec.machineType ? { machineType: spec.machineType } : {}),
      ...(spec.accelerator ? { accelerator: spec.accelerator } : {}),
      ...(spec.persistent ? { persistent: true } : {}),
      intervals: [],
    };
    usages.push(usage);
  }
  const last = usage.intervals[usage.intervals.length - 1];
  if (!last || last.end !== undefined) usage.intervals.push({ start: at });
}

/** Records that a VM was stopped or deleted (its teardown returned), closing its open interval. */
export function closeInterval(usages: VmUsage[], vmName: string, at: string): void {
  const usage = usages.find((candidate) => candidate.vmName === vmName);
  const last = usage?.intervals[usage.intervals.length - 1];
  if (last && last.end === undefined) last.end = at;
}

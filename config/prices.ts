/**
 * Hourly on-demand prices (USD) of Compute Engine machine types and accelerators, used to estimate
 * what a run's VMs cost (workflows/cost.ts) and exported as metrics. One table shared by the worker,
 * the API and the docs. Figures are list prices of europe-west1 / us-central1 rounded to the cent
 * (late 2025); they are estimates, not a bill: sustained-use and committed-use discounts, disks and
 * network are not counted. Edit them here (a plain module: the workflow bundle imports it too, so a
 * change takes effect when workers are redeployed).
 */
export interface PriceTable {
  currency: 'USD';
  /** Machine type → price per hour of a running instance (CPU and memory). */
  machineTypes: Record<string, number>;
  /** Accelerator type → price per hour of one attached accelerator. */
  accelerators: Record<string, number>;
  /**
   * What an instance created from a machine image runs on when its spec names no machine type or
   * accelerator (the image carries them), by image name.
   */
  machineImages: Record<string, { machineType?: string; accelerator?: { type: string; count: number } }>;
}

export const PRICES: PriceTable = {
  currency: 'USD',
  machineTypes: {
    'e2-standard-2': 0.07,
    'e2-standard-4': 0.13,
    'e2-standard-8': 0.27,
    'e2-highmem-8': 0.36,
    'n1-standard-2': 0.1,
    'n1-standard-4': 0.19,
    'n1-standard-8': 0.38,
    'n1-standard-16': 0.76,
    'n1-highmem-4': 0.24,
    'n1-highmem-8': 0.47,
    'n1-highmem-16': 0.95,
    'n2-standard-4': 0.19,
    'n2-standard-8': 0.39,
    'n2-highmem-8': 0.52,
    'g2-standard-4': 0.71,
    'g2-standard-8': 0.85,
    'a2-highgpu-1g': 3.67,
  },
  accelerators: {
    'nvidia-tesla-t4': 0.35,
    'nvidia-tesla-p4': 0.6,
    'nvidia-tesla-v100': 2.48,
    'nvidia-tesla-p100': 1.46,
    'nvidia-tesla-a100': 2.93,
    'nvidia-l4': 0.56,
  },
  machineImages: {
    'cpu-python-template-prod': { machineType: 'n1-standard-4' },
    'tensorflow-template-prod': {
      machineType: 'n1-standard-8',
      accelerator: { type: 'nvidia-tesla-t4', count: 1 },
    },
  },
};

/** Price per hour of a machine type, or undefined when the table does not know it. */
export function machineTypePrice(machineType: string, table: PriceTable = PRICES): number | undefined {
  return Object.hasOwn(table.machineTypes, machineType) ? table.machineTypes[machineType] : undefined;
}

/** Price per hour of one accelerator of a type, or undefined when the table does not know it. */
export function acceleratorPrice(type: string, table: PriceTable = PRICES): number | undefined {
  return Object.hasOwn(table.accelerators, type) ? table.accelerators[type] : undefined;
}

/**
 * List prices (USD per hour, on-demand, europe-west1, late 2026) of the Compute Engine machine types
 * and accelerators runs may use. One table for the API's cost ceiling and the run cost estimates:
 * a type missing here is not allowed unless ALLOWED_MACHINE_TYPES / ALLOWED_ACCELERATORS name it, and
 * then it is priced at the most expensive listed one (never free).
 */
export const MACHINE_TYPE_PRICES_USD_PER_HOUR: Readonly<Record<string, number>> = {
  'e2-standard-2': 0.074,
  'e2-standard-4': 0.148,
  'e2-standard-8': 0.296,
  'e2-highmem-4': 0.2,
  'e2-highmem-8': 0.4,
  'n1-standard-2': 0.105,
  'n1-standard-4': 0.21,
  'n1-standard-8': 0.419,
  'n1-standard-16': 0.838,
  'n1-highmem-4': 0.261,
  'n1-highmem-8': 0.522,
  'n1-highmem-16': 1.045,
  'n2-standard-4': 0.214,
  'n2-standard-8': 0.428,
  'n2-highmem-8': 0.577,
  'g2-standard-4': 0.786,
  'g2-standard-8': 0.95,
};

/** Per accelerator and hour (one GPU; a VM with `type:2` pays twice). */
export const ACCELERATOR_PRICES_USD_PER_HOUR: Readonly<Record<string, number>> = {
  'nvidia-tesla-t4': 0.385,
  'nvidia-tesla-p4': 0.66,
  'nvidia-tesla-v100': 2.72,
  'nvidia-l4': 0.7,
  'nvidia-tesla-a100': 3.22,
};

/** Machine type assumed for a VM created from a machine image that states none. */
export const DEFAULT_MACHINE_TYPE = 'n1-standard-4';

const highest = (table: Readonly<Record<string, number>>): number => Math.max(...Object.values(table));

/** Hourly price of a machine type; unknown types cost as much as the dearest listed one. */
export function machineTypePrice(machineType: string): number {
  return Object.hasOwn(MACHINE_TYPE_PRICES_USD_PER_HOUR, machineType)
    ? (MACHINE_TYPE_PRICES_USD_PER_HOUR[machineType] as number)
    : highest(MACHINE_TYPE_PRICES_USD_PER_HOUR);
}

/** Hourly price of one accelerator; unknown types cost as much as the dearest listed one. */
export function acceleratorPrice(accelerator: string): number {
  return Object.hasOwn(ACCELERATOR_PRICES_USD_PER_HOUR, accelerator)
    ? (ACCELERATOR_PRICES_USD_PER_HOUR[accelerator] as number)
    : highest(ACCELERATOR_PRICES_USD_PER_HOUR);
}

/** Hourly price of a VM: its machine type plus `count` accelerators. */
export function vmHourlyPrice(machineType: string, accelerator?: { type: string; count: number }): number {
  return (
    machineTypePrice(machineType) + (accelerator ? accelerator.count * acceleratorPrice(accelerator.type) : 0)
  );
}

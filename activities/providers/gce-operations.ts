import type { ZoneOperationsClient, protos } from '@google-cloud/compute';
import { VmErrorType, vmFailure } from './errors';

type Operation = protos.google.cloud.compute.v1.IOperation;

const CAPACITY_ERRORS = /RESOURCE_POOL_EXHAUSTED|QUOTA_EXCEEDED|RESOURCE_OPERATION_RATE_EXCEEDED|STOCKOUT/;

/** HTTP status of an error from the REST transport (gaxios-style `code` or `status`). */
export function httpStatus(error: unknown): number | undefined {
  const { code, status } = (error ?? {}) as { code?: unknown; status?: unknown };
  return typeof code === 'number' ? code : typeof status === 'number' ? status : undefined;
}

/**
 * The typed failure for a finished operation that carries errors, or undefined when it succeeded.
 * Compute Engine's codes are kept in the message and details: they are what an operator searches for.
 */
export function operationFailure(operation: Operation, what: string): Error | undefined {
  const errors = operation.error?.errors ?? [];
  if (errors.length === 0) return undefined;
  const detail = errors.map((error) => `${error.code}: ${error.message}`).join('; ');
  const codes = errors.map((error) => error.code ?? '');
  const details = { operation: operation.name, codes };
  if (/machineImages/.test(detail) && codes.some((code) => code.includes('NOT_FOUND')))
    return vmFailure(VmErrorType.MACHINE_IMAGE_NOT_FOUND, `${what}: ${detail}`, details);
  const capacity = codes.some((code) => CAPACITY_ERRORS.test(code));
  return vmFailure(
    capacity ? VmErrorType.VM_CAPACITY : VmErrorType.VM_OPERATION_FAILED,
    `${what}: operation ${operation.name} failed: ${detail}`,
    details,
  );
}

/**
 * Waits on a zone operation until DONE. `zoneOperations.wait` returns after at most about two
 * minutes even when the operation is not done, so it is called in a loop.
 */
export async function waitZoneOperation(
  context: { operations: ZoneOperationsClient; project: string; zone: string; timeoutMs?: number },
  operation: Operation | null | undefined,
  what: string,
): Promise<void> {
  const { operations, project, zone } = context;
  const deadline = Date.now() + (context.timeoutMs ?? 15 * 60_000);
  let current = operation;
  while (current?.status !== 'DONE') {
    if (!current?.name)
      throw vmFailure(VmErrorType.VM_OPERATION_FAILED, `${what}: Compute Engine returned no operation`);
    if (Date.now() > deadline)
      throw vmFailure(VmErrorType.VM_OPERATION_FAILED, `${what}: operation ${current.name} not done in time`);
    [current] = await operations.wait({ project, zone, operation: current.name });
  }
  const failure = operationFailure(current, what);
  if (failure) throw failure;
}

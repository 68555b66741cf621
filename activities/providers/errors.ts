import { ApplicationFailure } from '@temporalio/common';

/** Failure types of VM providers; workflows and the runner decide on these names, never on messages. */
export enum VmErrorType {
  /** The instance does not exist (start, sshTarget, or a persistent instance without an image). */
  VM_NOT_FOUND = 'VM_NOT_FOUND',
  /** The machine image named by the spec does not exist. */
  MACHINE_IMAGE_NOT_FOUND = 'MACHINE_IMAGE_NOT_FOUND',
  /** A name, label or machine configuration that the provider refuses. */
  VM_INVALID_SPEC = 'VM_INVALID_SPEC',
  /** The provider is configured incompletely (e.g. no SSH key for Compute Engine). */
  VM_NOT_CONFIGURED = 'VM_NOT_CONFIGURED',
  /** The instance exists but does not run (asked for SSH coordinates). Retrying after a start helps. */
  VM_NOT_RUNNING = 'VM_NOT_RUNNING',
  /** The instance's entrypoint (`download_scripts.sh`) failed at boot. */
  VM_BOOT_FAILED = 'VM_BOOT_FAILED',
  /** The zone has no capacity or the project no quota right now. */
  VM_CAPACITY = 'VM_CAPACITY',
  /** A provider operation ended with an error. */
  VM_OPERATION_FAILED = 'VM_OPERATION_FAILED',
  /** The VM does not publish its SSH host key (yet): never connect without a pinned key. */
  VM_HOST_KEY_UNAVAILABLE = 'VM_HOST_KEY_UNAVAILABLE',
  /** Another process holds the instance's lock for too long. */
  VM_BUSY = 'VM_BUSY',
  /** Anything else a provider threw (I/O, transport); retryable. */
  VM_PROVIDER_ERROR = 'VM_PROVIDER_ERROR',
}

/** Retrying cannot fix these: the spec, the image or the configuration must change first. */
const NON_RETRYABLE = new Set<VmErrorType>([
  VmErrorType.VM_NOT_FOUND,
  VmErrorType.MACHINE_IMAGE_NOT_FOUND,
  VmErrorType.VM_INVALID_SPEC,
  VmErrorType.VM_NOT_CONFIGURED,
]);

/**
 * A typed provider failure. Providers throw `ApplicationFailure`s directly so that any activity
 * calling a provider (provisioning here, the training monitor elsewhere) fails with the right type
 * and retry behaviour without wrapping.
 */
export function vmFailure(
  type: VmErrorType,
  message: string,
  details: Record<string, unknown> = {},
  cause?: Error,
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: NON_RETRYABLE.has(type),
    details: [details],
    cause,
  });
}

/** True for a failure of the given type, as thrown by `vmFailure`. */
export function isVmFailure(error: unknown, type?: VmErrorType): error is ApplicationFailure {
  return error instanceof ApplicationFailure && (type === undefined || error.type === type);
}

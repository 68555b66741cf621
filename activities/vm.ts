import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { VmErrorType, vmFailure } from './providers/errors';
import type { VmInfo, VmProvider, VmSpec } from './providers/types';

/**
 * Heartbeats while a provider call runs (creating a GPU instance can take minutes), when the activity
 * has a heartbeat timeout. Typed provider failures pass through; anything else becomes a retryable
 * `VM_PROVIDER_ERROR` keeping the original message.
 */
async function providerCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const timeoutMs = activityInfo().heartbeatTimeoutMs;
  const timer = timeoutMs
    ? setInterval(() => heartbeat({ waitingFor: what }), Math.max(timeoutMs / 3, 50))
    : undefined;
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ApplicationFailure || error instanceof CancelledFailure) throw error;
    const cause = error instanceof Error ? error : new Error(String(error));
    throw vmFailure(VmErrorType.VM_PROVIDER_ERROR, `${what}: ${cause.message}`, {}, cause);
  } finally {
    clearInterval(timer);
  }
}

/**
 * VM lifecycle activities over one provider (`local` or `gce`). Thin and idempotent: each is safe to
 * retry, so workflows may call them again after any failure. SSH coordinates are deliberately not an
 * activity: they carry a private key, which must never land in workflow history; activities that talk
 * to the VM call `provider.sshTarget()` themselves.
 */
export function createVmActivities(provider: VmProvider) {
  return {
    /** Creates the instance from its machine image (or starts the persistent one); resolves once it runs. */
    async provisionVm(spec: VmSpec): Promise<VmInfo> {
      return await providerCall(`provision ${spec.name}`, () => provider.provision(spec));
    },
    async startVm(name: string): Promise<VmInfo> {
      return await providerCall(`start ${name}`, () => provider.start(name));
    },
    async vmStatus(name: string): Promise<VmInfo> {
      return await providerCall(`status of ${name}`, () => provider.status(name));
    },
    /** Stops the instance and everything it runs; a no-op when it is stopped or gone. */
    async stopVm(name: string): Promise<void> {
      await providerCall(`stop ${name}`, () => provider.stop(name));
    },
    /** Deletes the instance (a persistent one is only stopped); a no-op when it is gone. */
    async deleteVm(name: string): Promise<void> {
      await providerCall(`delete ${name}`, () => provider.delete(name));
    },
    /** Instances carrying all the given labels (the reaper's query). */
    async listVms(labels: Record<string, string> = {}): Promise<VmInfo[]> {
      return await providerCall('list instances', () => provider.list(labels));
    },
  };
}

export type VmActivities = ReturnType<typeof createVmActivities>;

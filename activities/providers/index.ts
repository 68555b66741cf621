import { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import { PassThroughClient } from 'google-auth-library';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../../config';
import { projectRoot } from './paths';
import { VmErrorType, vmFailure } from './errors';
import { GceVmProvider } from './gce';
import { LocalVmProvider } from './local';
import type { VmProvider } from './types';

export type VmProviderConfig = Pick<
  Config,
  | 'VM_PROVIDER'
  | 'DATA_DIR'
  | 'LOCAL_VM_ROOT'
  | 'LOCAL_MACHINE_IMAGES_DIR'
  | 'GCE_PROJECT'
  | 'GCE_ZONE'
  | 'GCE_API_ENDPOINT'
  | 'GCE_SSH_USER'
  | 'GCE_SSH_PRIVATE_KEY_FILE'
  | 'GCE_SSH_ADDRESS'
>;

type ComputeClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

export interface ComputeClients {
  instances: InstancesClient;
  operations: ZoneOperationsClient;
}

export interface VmProviderDeps {
  /** Compute Engine clients built by the caller (the worker builds them once); made here otherwise. */
  compute?: ComputeClients;
  /** Passed to the gce provider (tests shorten it). */
  pollIntervalMs?: number;
}

// Relative folders are taken from the repository root, like the local stack's `.data/`.
const fromRoot = (path: string): string => (isAbsolute(path) ? path : resolve(projectRoot, path));

/**
 * Compute Engine clients (REST). With `GCE_API_ENDPOINT` set they talk to that URL without looking up
 * credentials (the wire tests' server); otherwise Application Default Credentials are used.
 */
export function createComputeClients(config: Pick<Config, 'GCE_API_ENDPOINT'>): ComputeClients {
  if (!config.GCE_API_ENDPOINT)
    return { instances: new InstancesClient(), operations: new ZoneOperationsClient() };
  const url = new URL(config.GCE_API_ENDPOINT);
  const protocol = url.protocol.replace(':', '');
  const options = {
    apiEndpoint: url.hostname,
    port: Number(url.port || (protocol === 'http' ? 80 : 443)),
    protocol,
    fallback: true,
    // google-gax bundles its own google-auth-library copy: same class at runtime, another type to tsc.
    authClient: new PassThroughClient() as unknown as ComputeClientOptions['authClient'],
  };
  return { instances: new InstancesClient(options), operations: new ZoneOperationsClient(options) };
}

/** The VM provider chosen by `VM_PROVIDER`: `local` (default, sshd + tmux folders) or `gce`. */
export function createVmProvider(config: VmProviderConfig, deps: VmProviderDeps = {}): VmProvider {
  if (config.VM_PROVIDER === 'local') {
    return new LocalVmProvider({
      root: fromRoot(config.LOCAL_VM_ROOT || join(config.DATA_DIR, 'vms')),
      imagesDir: fromRoot(config.LOCAL_MACHINE_IMAGES_DIR),
    });
  }
  if (!config.GCE_PROJECT)
    throw vmFailure(VmErrorType.VM_NOT_CONFIGURED, 'VM_PROVIDER=gce needs GCE_PROJECT (and GCE_ZONE)');
  const compute = deps.compute ?? createComputeClients(config);
  return new GceVmProvider({
    project: config.GCE_PROJECT,
    zone: config.GCE_ZONE,
    instances: compute.instances,
    operations: compute.operations,
    pollIntervalMs: deps.pollIntervalMs,
    ssh: {
      username: config.GCE_SSH_USER,
      address: config.GCE_SSH_ADDRESS,
      privateKey: () => {
        if (!config.GCE_SSH_PRIVATE_KEY_FILE)
          throw vmFailure(
            VmErrorType.VM_NOT_CONFIGURED,
            'VM_PROVIDER=gce needs GCE_SSH_PRIVATE_KEY_FILE for SSH',
          );
        const file = fromRoot(config.GCE_SSH_PRIVATE_KEY_FILE);
        try {
          return readFileSync(file);
        } catch (error) {
          throw vmFailure(
            VmErrorType.VM_NOT_CONFIGURED,
            `GCE_SSH_PRIVATE_KEY_FILE ${file} cannot be read: ${(error as Error).message}`,
          );
        }
      },
    },
  });
}

export type { VmInfo, VmProvider, VmSpec, VmStatus } from './types';
export { VmErrorType } from './errors';
export { toLabelValue } from './naming';

import type { InstancesClient, ZoneOperationsClient, protos } from '@google-cloud/compute';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SshTarget } from '../remote/ssh';
import { VmErrorType, vmFailure } from './errors';
import { httpStatus, waitZoneOperation } from './gce-operations';
import { assertLabels, assertVmName, labelFilter, PERSISTENT_LABEL } from './naming';
import type { VmInfo, VmProvider, VmSpec, VmStatus } from './types';

type Instance = protos.google.cloud.compute.v1.IInstance;
type Operation = protos.google.cloud.compute.v1.IOperation;

export interface GceVmProviderOptions {
  project: string;
  zone: string;
  instances: InstancesClient;
  operations: ZoneOperationsClient;
  /** SSH login: the user whose public key is in the project's or image's metadata, and its private key. */
  ssh: { username: string; privateKey: () => Buffer | string; address: 'internal' | 'external' };
  /** Pause between reads of an instance that is in transition (STOPPING, STAGING…). */
  pollIntervalMs?: number;
  /** Upper bound for any single wait (an operation, a transition). */
  waitTimeoutMs?: number;
}

// Host key types in order of preference; the first one the guest publishes is pinned.
const HOST_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'ssh-rsa'];
const STOPPED: VmStatus[] = ['TERMINATED', 'STOPPED'];

/**
 * The `gce` provider: Compute Engine through `@google-cloud/compute` (REST). Instances are created from
 * machine images in one zone; every change waits on its zone operation, and an operation's error is
 * surfaced with Compute Engine's own code and message.
 */
export class GceVmProvider implements VmProvider {
  readonly kind = 'gce' as const;

  constructor(private readonly options: GceVmProviderOptions) {}

  async provision(spec: VmSpec): Promise<VmInfo> {
    assertVmName(spec.name);
    const labels = { ...spec.labels, ...(spec.persistent ? { [PERSISTENT_LABEL]: 'true' } : {}) };
    assertLabels(labels);
    const current = await this.get(spec.name);
    if (!current) {
      if (!spec.machineImage)
        throw vmFailure(
          VmErrorType.VM_NOT_FOUND,
          `instance ${spec.name} does not exist in ${this.where} and the spec names no machine image to create it from`,
          { name: spec.name },
        );
      await this.insert(spec, labels);
    } else {
      await this.updateLabels(current, labels);
    }
    return await this.ensureRunning(spec.name);
  }

  /**
   * Sets the labels of an existing instance (the persistent one, reused by run after run) so listing
   * by the current run finds it. Labels set by others are kept; ours are overwritten. Compare-and-set
   * on the label fingerprint: a concurrent change makes us read again and retry.
   */
  private async updateLabels(current: Instance, labels: Record<string, string>): Promise<void> {
    const { project, zone, instances } = this.options;
    let instance: Instance | undefined = current;
    for (let attempt = 0; instance; attempt++) {
      const merged = { ...(instance.labels ?? {}), ...labels };
      if (Object.entries(merged).every(([key, value]) => instance!.labels?.[key] === value)) return;
      try {
        const [{ latestResponse: operation }] = (await instances.setLabels({
          project,
          zone,
          instance: instance.name ?? '',
          instancesSetLabelsRequestResource: { labels: merged, labelFingerprint: instance.labelFingerprint },
        })) as unknown as [{ latestResponse: Operation }];
        await this.waitOperation(operation, `setLabels ${instance.name}`);
        return;
      } catch (error) {
        if (httpStatus(error) !== 412 || attempt >= 4) throw error;
      }
      instance = await this.get(instance.name ?? '');
    }
  }

  async start(name: string): Promise<VmInfo> {
    assertVmName(name);
    return await this.ensureRunning(name);
  }

  async stop(name: string): Promise<void> {
    assertVmName(name);
    const instance = await this.get(name);
    if (!instance || STOPPED.includes(instance.status as VmStatus)) return;
    if (instance.status !== 'STOPPING') await this.operate('stop', name);
    await this.waitFor(name, (status) => status === 'NOT_FOUND' || STOPPED.includes(status));
  }

  async delete(name: string): Promise<void> {
    assertVmName(name);
    const instance = await this.get(name);
    if (!instance) return;
    // A persistent instance keeps its disk: deleting it (e.g. by the reaper) only stops it.
    if (instance.labels?.[PERSISTENT_LABEL] === 'true') return await this.stop(name);
    await this.operate('delete', name);
  }

  async status(name: string): Promise<VmInfo> {
    assertVmName(name);
    const instance = await this.get(name);
    return instance ? this.info(instance) : { name, status: 'NOT_FOUND', labels: {} };
  }

  async list(labels: Record<string, string> = {}): Promise<VmInfo[]> {
    const { project, zone, instances } = this.options;
    const infos: VmInfo[] = [];
    let pageToken: string | undefined;
    do {
      // One page at a time: the client's auto-pagination warns on every async call.
      const [page, , raw] = await instances.list(
        { project, zone, filter: labelFilter(labels), pageToken },
        { autoPaginate: false },
      );
      infos.push(...page.map((instance) => this.info(instance)));
      pageToken = raw?.nextPageToken || undefined;
    } while (pageToken);
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  async sshTarget(name: string): Promise<SshTarget> {
    assertVmName(name);
    const instance = await this.get(name);
    if (!instance)
      throw vmFailure(VmErrorType.VM_NOT_FOUND, `instance ${name} not found in ${this.where}`, { name });
    if (instance.status !== 'RUNNING')
      throw vmFailure(VmErrorType.VM_NOT_RUNNING, `instance ${name} is ${instance.status}, not RUNNING`, {
        name,
      });
    const nic = instance.networkInterfaces?.[0];
    const host = this.options.ssh.address === 'external' ? nic?.accessConfigs?.[0]?.natIP : nic?.networkIP;
    if (!host)
      throw vmFailure(
        VmErrorType.VM_NOT_CONFIGURED,
        `instance ${name} has no ${this.options.ssh.address} IP address`,
        {
          name,
        },
      );
    return {
      host,
      port: 22,
      username: this.options.ssh.username,
      privateKey: this.options.ssh.privateKey(),
      hostKey: await this.hostKey(name),
    };
  }

  private get where(): string {
    return `projects/${this.options.project}/zones/${this.options.zone}`;
  }

  private info(instance: Instance): VmInfo {
    const labels = { ...(instance.labels ?? {}) };
    return {
      name: instance.name ?? '',
      status: (instance.status ?? 'PROVISIONING') as VmStatus,
      labels,
      persistent: labels[PERSISTENT_LABEL] === 'true',
    };
  }

  private async get(name: string): Promise<Instance | undefined> {
    const { project, zone, instances } = this.options;
    try {
      const [instance] = await instances.get({ project, zone, instance: name });
      return instance;
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    }
  }

  private async insert(spec: VmSpec, labels: Record<string, string>): Promise<void> {
    const { project, zone, instances } = this.options;
    const sourceMachineImage = `projects/${project}/global/machineImages/${spec.machineImage}`;
    const instanceResource: Instance = { name: spec.name, labels };
    if (spec.machineType)
      instanceResource.machineType = spec.machineType.includes('/')
        ? spec.machineType
        : `zones/${zone}/machineTypes/${spec.machineType}`;
    if (spec.accelerator) {
      instanceResource.guestAccelerators = [
        {
          acceleratorType: `projects/${project}/zones/${zone}/acceleratorTypes/${spec.accelerator.type}`,
          acceleratorCount: spec.accelerator.count,
        },
      ];
      // GPUs cannot live-migrate: Compute Engine refuses GPU instances that do not terminate on maintenance.
      instanceResource.scheduling = { onHostMaintenance: 'TERMINATE' };
    }
    let operation: Operation | null | undefined;
    try {
      [{ latestResponse: operation }] = (await instances.insert({
        project,
        zone,
        sourceMachineImage,
        instanceResource,
      })) as unknown as [{ latestResponse: Operation }];
    } catch (error) {
      const status = httpStatus(error);
      if (status === 409) return; // created by an earlier attempt: carry on with it
      const message = error instanceof Error ? error.message : String(error);
      if (status === 404 && message.includes('machineImages'))
        throw vmFailure(
          VmErrorType.MACHINE_IMAGE_NOT_FOUND,
          `machine image ${spec.machineImage} not found (${sourceMachineImage})`,
          { machineImage: spec.machineImage },
        );
      if (status === 400 || status === 404)
        throw vmFailure(
          VmErrorType.VM_INVALID_SPEC,
          `Compute Engine refused instance ${spec.name}: ${message}`,
          {
            name: spec.name,
          },
        );
      throw error;
    }
    await this.waitOperation(operation, `insert ${spec.name} from ${sourceMachineImage}`);
  }

  /** Calls start/stop/delete and waits for its operation; an instance gone meanwhile is not an error for stop/delete. */
  private async operate(method: 'start' | 'stop' | 'delete', name: string): Promise<void> {
    const { project, zone, instances } = this.options;
    let operation: Operation | null | undefined;
    try {
      [{ latestResponse: operation }] = (await instances[method]({
        project,
        zone,
        instance: name,
      })) as unknown as [{ latestResponse: Operation }];
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
      if (method === 'start')
        throw vmFailure(VmErrorType.VM_NOT_FOUND, `instance ${name} not found in ${this.where}`);
      return;
    }
    await this.waitOperation(operation, `${method} ${name}`);
  }

  private async waitOperation(operation: Operation | null | undefined, what: string): Promise<void> {
    const { project, zone, operations, waitTimeoutMs } = this.options;
    await waitZoneOperation({ operations, project, zone, timeoutMs: waitTimeoutMs }, operation, what);
  }

  /** Brings an existing instance to RUNNING from whatever state it is in, waiting out transitions. */
  private async ensureRunning(name: string): Promise<VmInfo> {
    const deadline = Date.now() + (this.options.waitTimeoutMs ?? 15 * 60_000);
    for (;;) {
      const instance = await this.get(name);
      if (!instance)
        throw vmFailure(VmErrorType.VM_NOT_FOUND, `instance ${name} not found in ${this.where}`, { name });
      const status = instance.status as VmStatus;
      if (status === 'RUNNING') return this.info(instance);
      if (STOPPED.includes(status)) await this.operate('start', name);
      else if (status === 'SUSPENDED') await this.resume(name);
      else if (Date.now() > deadline)
        throw vmFailure(VmErrorType.VM_OPERATION_FAILED, `instance ${name} stuck in ${status}`, { name });
      else await sleep(this.options.pollIntervalMs ?? 5000);
    }
  }

  private async resume(name: string): Promise<void> {
    const { project, zone, instances } = this.options;
    const [{ latestResponse }] = (await instances.resume({ project, zone, instance: name })) as unknown as [
      { latestResponse: Operation },
    ];
    await this.waitOperation(latestResponse, `resume ${name}`);
  }

  private async waitFor(name: string, done: (status: VmStatus) => boolean): Promise<void> {
    const deadline = Date.now() + (this.options.waitTimeoutMs ?? 15 * 60_000);
    for (;;) {
      const info = await this.status(name);
      if (done(info.status)) return;
      if (Date.now() > deadline)
        throw vmFailure(VmErrorType.VM_OPERATION_FAILED, `instance ${name} stuck in ${info.status}`, {
          name,
        });
      await sleep(this.options.pollIntervalMs ?? 5000);
    }
  }

  /**
   * The host key the guest agent published in guest attributes (`hostkeys/`; the instance needs
   * metadata `enable-guest-attributes=TRUE`). Missing → a retryable failure, never an unpinned connection.
   */
  private async hostKey(name: string): Promise<string> {
    const { project, zone, instances } = this.options;
    let entries: protos.google.cloud.compute.v1.IGuestAttributesEntry[] = [];
    try {
      const [attributes] = await instances.getGuestAttributes({
        project,
        zone,
        instance: name,
        queryPath: 'hostkeys/',
      });
      entries = attributes.queryValue?.items ?? [];
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
    for (const type of HOST_KEY_TYPES) {
      const value = entries.find((entry) => entry.key === type)?.value?.trim();
      // The agent publishes the base64 blob; tolerate a whole `type blob` line as well.
      if (value) return value.includes(' ') ? (value.split(/\s+/)[1] ?? value) : value;
    }
    throw vmFailure(
      VmErrorType.VM_HOST_KEY_UNAVAILABLE,
      `instance ${name} publishes no SSH host key in guest attributes hostkeys/ (is enable-guest-attributes=TRUE set, and the guest agent up?)`,
      { name },
    );
  }
}

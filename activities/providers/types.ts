import type { SshTarget } from '../remote/ssh';

/** What a training step asks of a VM. One name per thing, shared by pipelines, API and docs. */
export interface VmSpec {
  /** Instance name, unique per run and step (e.g. `rt-visits-scaling-2026q4-quality-train`). */
  name: string;
  /** Machine image to create from (`cpu-python-template-prod`, `tensorflow-template-prod`). */
  machineImage?: string;
  /** Persistent instance: started and stopped, never created or deleted (quality's notebook). */
  persistent?: boolean;
  machineType?: string;
  /** e.g. `{ type: 'nvidia-tesla-t4', count: 1 }`. */
  accelerator?: { type: string; count: number };
  /** Labels put on the instance (`run_id`, `pipeline`, `step`), used by the reaper. */
  labels?: Record<string, string>;
}

export type VmStatus =
  'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'SUSPENDED' | 'TERMINATED' | 'NOT_FOUND';

export interface VmInfo {
  name: string;
  status: VmStatus;
  labels: Record<string, string>;
  /** A persistent instance is only ever stopped (the reaper stops it instead of deleting it). */
  persistent?: boolean;
}

/**
 * The VM provider port. `local` (sshd + tmux folders) and `gce` (Compute Engine) implement it.
 * Every method is idempotent, so a retried activity can call it again safely.
 */
export interface VmProvider {
  readonly kind: 'local' | 'gce';
  /** Creates the instance from its machine image, or starts the persistent one; resolves when it runs. */
  provision(spec: VmSpec): Promise<VmInfo>;
  /** SSH coordinates with the host key pinned; fails if the instance is not running. */
  sshTarget(name: string): Promise<SshTarget>;
  status(name: string): Promise<VmInfo>;
  start(name: string): Promise<VmInfo>;
  /** Stops the instance; on `local` this ends everything it runs (its tmux server). */
  stop(name: string): Promise<void>;
  /** Deletes a created instance; a no-op when it does not exist. A persistent instance is only stopped. */
  delete(name: string): Promise<void>;
  /** Instances carrying all the given labels (the reaper's query). */
  list(labels?: Record<string, string>): Promise<VmInfo[]>;
}

/**
 * The instance lease's public surface (no workflow logic): signals, query and types, so activities,
 * the API and tests can import them without pulling workflow code. See workflows/instance-lease.ts.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** A request for the instance (or a renewal by the current holder), sent with signal-with-start. */
export interface LeaseRequest {
  /** Workflow id of the requester (a trainOnVm child): the lease signals it when granted. */
  holder: string;
  /** The run it trains for (a runPipeline workflow id): what waiters are told holds the instance. */
  run: string;
  /** How long the lease holds without a release; a holder that dies frees the instance after this. */
  ttlMs: number;
}

export interface LeaseRelease {
  holder: string;
}

/** What the lease tells a requester: granted, or waiting behind the run that holds the instance. */
export interface LeaseUpdate {
  instance: string;
  granted: boolean;
  /** The run holding the instance, while not granted. */
  heldBy?: string;
  /** Place in the queue (1 = next), while not granted. */
  position?: number;
}

export interface LeaseState {
  instance: string;
  holder?: LeaseRequest & { grantedAt: string; expiresAt: string };
  waiting: LeaseRequest[];
  /** Grants and expiries so far (across continue-as-new), for tests and operators. */
  history: {
    holder: string;
    run: string;
    grantedAt: string;
    endedAt?: string;
    ended?: 'released' | 'expired';
  }[];
}

export const acquireLeaseSignal = defineSignal<[LeaseRequest]>('acquireLease');
export const releaseLeaseSignal = defineSignal<[LeaseRelease]>('releaseLease');
/** Sent by the lease to a requester's workflow. */
export const leaseUpdateSignal = defineSignal<[LeaseUpdate]>('leaseUpdate');
export const leaseStateQuery = defineQuery<LeaseState>('leaseState');

/** One lease workflow per instance: `instance-lease/<instance name>`. */
export const leaseWorkflowId = (instance: string): string => `instance-lease/${instance}`;

/** The note a waiting training shows in its run's status. */
export const waitingNote = (update: LeaseUpdate): string =>
  `waiting for ${update.instance}, held by run ${update.heldBy ?? 'unknown'}`;

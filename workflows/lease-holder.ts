/**
 * The holder's side of an instance lease, inside a workflow (trainOnVm): ask, wait for the grant
 * while showing who holds the instance (in the training's progress and in the parent run's status),
 * and release in teardown.
 */
import {
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LeaseActivities } from '../activities/lease';
import { stepNoteSignal } from './definitions';
import { leaseUpdateSignal, waitingNote, type LeaseUpdate } from './lease-definitions';

const { requestInstanceLease, releaseInstanceLease } = proxyActivities<LeaseActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/**
 * One `leaseUpdate` handler for a workflow that may hold several leases at once (a run's exclusive
 * steps): routes each update to the holder of its lease name, and lets one step of the run at a time
 * hold a given name (the lease sees the run, not the step, as its holder).
 */
export class LeaseUpdateRouter {
  private readonly holders = new Map<string, (update: LeaseUpdate) => void>();
  private readonly inUse = new Set<string>();

  constructor() {
    setHandler(leaseUpdateSignal, (update) => {
      if (typeof update?.instance === 'string') this.holders.get(update.instance)?.(update);
    });
  }

  route(instance: string, onUpdate: (update: LeaseUpdate) => void): void {
    this.holders.set(instance, onUpdate);
  }

  /** Waits until no other step of this run holds `instance`, then takes it. */
  async take(instance: string): Promise<void> {
    await condition(() => !this.inUse.has(instance));
    this.inUse.add(instance);
  }

  give(instance: string): void {
    this.inUse.delete(instance);
    this.holders.delete(instance);
  }

  /** Lets the run's next step with `instance` take it, while the run keeps its grant (a span). */
  free(instance: string): void {
    this.inUse.delete(instance);
  }
}

export class InstanceLeaseHolder {
  private update: LeaseUpdate | undefined;
  private requested = false;

  /**
   * Installs the `leaseUpdate` handler (or routes it through `router`, when the workflow may hold
   * several leases); call it before anything can send one.
   */
  constructor(
    private readonly instance: string,
    private readonly ttlMs: number,
    router?: LeaseUpdateRouter,
  ) {
    const onUpdate = (update: LeaseUpdate) => {
      if (update?.instance === instance) this.update = update;
    };
    if (router) router.route(instance, onUpdate);
    else setHandler(leaseUpdateSignal, onUpdate);
  }

  /** The request again, as a renewal of a held lease: the lease pushes its expiry out by the ttl. */
  async renew(): Promise<void> {
    if (this.requested) await this.request();
  }

  /** Asks the lease for the instance as this workflow (of its parent run), for the ttl. */
  private async request(): Promise<void> {
    const info = workflowInfo();
    await requestInstanceLease({
      instance: this.instance,
      request: {
        holder: info.workflowId,
        run: info.parent?.workflowId ?? info.workflowId,
        ttlMs: this.ttlMs,
      },
    });
  }

  /** Waits until this workflow holds the instance; `onWaiting` sees each "waiting for …" note (undefined once granted). */
  async acquire(onWaiting: (note: string | undefined) => void): Promise<void> {
    this.requested = true;
    await this.request();
    let shown: string | undefined;
    const current = () => (this.update && !this.update.granted ? waitingNote(this.update) : undefined);
    for (;;) {
      await condition(() => this.update !== undefined && (this.update.granted || current() !== shown));
      const note = current();
      if (note !== shown || this.update?.granted) {
        if (shown !== undefined || note !== undefined) {
          shown = note;
          onWaiting(note);
          await this.tellParent(note);
        }
      }
      if (this.update?.granted) return;
    }
  }

  /** Gives the instance back (or leaves the queue); a no-op when it was never asked for. */
  async release(): Promise<void> {
    if (!this.requested) return;
    await releaseInstanceLease({ instance: this.instance, holder: workflowInfo().workflowId });
    this.requested = false;
  }

  /** The parent run shows the note on the step (status query); a run without the handler ignores it. */
  private async tellParent(note: string | undefined): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return;
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(stepNoteSignal, {
        workflowId: workflowInfo().workflowId,
        note: note ?? null,
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('could not tell the parent run', { error: String(error) });
    }
  }
}

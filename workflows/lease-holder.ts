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

export class InstanceLeaseHolder {
  private update: LeaseUpdate | undefined;
  private requested = false;

  /** Installs the `leaseUpdate` handler; call it before anything can send one. */
  constructor(
    private readonly instance: string,
    private readonly ttlMs: number,
  ) {
    setHandler(leaseUpdateSignal, (update) => {
      if (update?.instance === instance) this.update = update;
    });
  }

  /** Waits until this workflow holds the instance; `onWaiting` sees each "waiting for …" note (undefined once granted). */
  async acquire(onWaiting: (note: string | undefined) => void): Promise<void> {
    const info = workflowInfo();
    this.requested = true;
    await requestInstanceLease({
      instance: this.instance,
      request: {
        holder: info.workflowId,
        run: info.parent?.workflowId ?? info.workflowId,
        ttlMs: this.ttlMs,
      },
    });
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

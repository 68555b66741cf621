import { CancellationScope, condition, isCancellation, log } from '@temporalio/workflow';
import { InstanceLeaseHolder, type LeaseUpdateRouter } from '../lease-holder';

/** Patch id: a run holds an exclusive lease from its first step naming it until the last one settled. */
export const EXCLUSIVE_SPAN = 'exclusive-span';

interface Span {
  holder: InstanceLeaseHolder;
  ttlMs: number;
  released: boolean;
}

/**
 * The run's hold on the exclusive leases its steps name (behind `patched(EXCLUSIVE_SPAN)`): the first
 * step naming a lease acquires it for the run, the run's later steps naming it find it held, and the
 * runner gives it back once every step naming it has settled, or when the run ends, fails or is
 * aborted. So another run's `promote` cannot come between this run's `promote` and its `gapfill`.
 * While held, the lease is renewed every half ttl (an operator decision may take days); a run that
 * dies without releasing frees it at the lease's expiry.
 */
export class ExclusiveSpans {
  private readonly held = new Map<string, Span>();

  constructor(
    private readonly leases: LeaseUpdateRouter,
    /** The lease's ttl for this run: the longest of its steps naming it (timeout × attempts + 1 h). */
    private readonly ttlOf: (name: string) => number,
  ) {}

  /** The names the run holds now. */
  names(): string[] {
    return [...this.held.keys()];
  }

  /**
   * Holds `name` for the run: at once when it already does, else after the lease granted it (each
   * "waiting for …" note goes to `onWaiting`, undefined once granted). A wait that is cancelled leaves
   * the lease's queue.
   */
  async enter(name: string, onWaiting: (note: string | undefined) => void): Promise<void> {
    if (this.held.has(name)) return;
    const ttlMs = this.ttlOf(name);
    const holder = new InstanceLeaseHolder(name, ttlMs, this.leases);
    try {
      await holder.acquire(onWaiting);
    } catch (error) {
      await CancellationScope.nonCancellable(async () => {
        onWaiting(undefined);
        await holder.release();
      });
      throw error;
    }
    const span: Span = { holder, ttlMs, released: false };
    this.held.set(name, span);
    this.keepAlive(name, span).catch((error: unknown) => {
      log.warn('exclusive lease: renewal stopped', { lease: name, error: String(error) });
    });
  }

  /** Gives back every held lease for which `done(name)` holds. */
  async releaseWhere(done: (name: string) => boolean): Promise<void> {
    for (const name of this.names()) if (done(name)) await this.release(name);
  }

  /** Gives back everything the run holds (its end, failure or abort). */
  async releaseAll(): Promise<void> {
    await this.releaseWhere(() => true);
  }

  private async release(name: string): Promise<void> {
    const span = this.held.get(name);
    if (!span) return;
    span.released = true;
    this.held.delete(name);
    await CancellationScope.nonCancellable(() => span.holder.release());
    this.leases.give(name);
  }

  /** Renews the lease every half ttl until it is released (non-cancellable: release ends it). */
  private async keepAlive(name: string, span: Span): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      const every = Math.max(1_000, Math.floor(span.ttlMs / 2));
      for (;;) {
        if (await condition(() => span.released, every)) return;
        try {
          await span.holder.renew();
        } catch (error) {
          if (isCancellation(error)) throw error;
          log.warn('exclusive lease: renewal failed', { lease: name, error: String(error) });
        }
      }
    });
  }
}

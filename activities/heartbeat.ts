import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating in the background (a quarter of the heartbeat timeout, between
 * 200 ms and 5 s; the SDK throttles what it sends). An activity that is only "short" — a provision,
 * an upload, an export — then gets its heartbeat timeout honoured: when its worker dies, Temporal
 * retries it elsewhere after seconds instead of waiting out its start-to-close timeout.
 */
export async function whileHeartbeating<T>(work: () => Promise<T>, details?: unknown): Promise<T> {
  const context = Context.current();
  const timeoutMs = context.info.heartbeatTimeoutMs || 20_000;
  const everyMs = Math.min(5000, Math.max(200, Math.floor(timeoutMs / 4)));
  const beat = () => context.heartbeat(details);
  beat();
  const timer = setInterval(beat, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

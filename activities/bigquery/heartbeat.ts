import { asyncLocalStorage } from '@temporalio/activity';

/** Heartbeats when running as an activity; a no-op when called directly (scripts, tests). */
export function heartbeatIfActivity(details?: unknown): void {
  asyncLocalStorage.getStore()?.heartbeat(details);
}

/** Rejects when the running activity is cancelled (never outside an activity). */
export function activityCancelled(): Promise<never> {
  return asyncLocalStorage.getStore()?.cancelled ?? new Promise<never>(() => undefined);
}

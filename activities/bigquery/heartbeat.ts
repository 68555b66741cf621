import { asyncLocalStorage } from '@temporalio/activity';

/** Heartbeats when running as an activity; a no-op when called directly (scripts, tests). */
export function heartbeatIfActivity(details?: unknown): void {
  asyncLocalStorage.getStore()?.heartbeat(details);
}

import type { LogEntry } from '@temporalio/worker';

/**
 * Every warning and error the SDK's runtime logger printed in this test process (workflow, activity
 * and worker logs), kept by test/setup.ts so tests can assert on what an operator would see.
 */
export const loggedEntries: LogEntry[] = [];

/** The logged entries whose message contains `text`. */
export const logsContaining = (text: string): LogEntry[] =>
  loggedEntries.filter((entry) => entry.message.includes(text));

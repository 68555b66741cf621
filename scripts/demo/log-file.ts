import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface FileLogger {
  readonly logger: DefaultLogger;
  readonly file: string;
  /** Warnings and errors logged so far (the demo names the count and the file, not the lines). */
  problems(): number;
}

function line(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const record = { time, level: entry.level, message: entry.message, ...entry.meta };
  try {
    return `${JSON.stringify(record)}\n`;
  } catch {
    return `${JSON.stringify({ time, level: entry.level, message: entry.message, meta: String(entry.meta) })}\n`;
  }
}

/**
 * The SDK's runtime logger of the demo's in-process worker, writing JSON lines to `file` instead of
 * the terminal: the demo prints its own progress, and a worker's warnings (with their activity
 * metadata) belong in a log an operator can open, not in the middle of it.
 */
export function createFileLogger(file: string, level: 'DEBUG' | 'INFO' | 'WARN' = 'INFO'): FileLogger {
  mkdirSync(dirname(file), { recursive: true });
  let problems = 0;
  const logger = new DefaultLogger(level, (entry) => {
    if (entry.level === 'WARN' || entry.level === 'ERROR') problems += 1;
    appendFileSync(file, line(entry));
  });
  return { logger, file, problems: () => problems };
}

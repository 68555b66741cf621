import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFileLogger } from '../../scripts/demo/log-file';
import { testTempDir } from '../harness/paths';

describe("the demo's worker log file", () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes JSON lines to the file, nothing to the terminal, and counts warnings and errors', () => {
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    const log = vi.spyOn(console, 'log');
    const error = vi.spyOn(console, 'error');
    const warn = vi.spyOn(console, 'warn');
    const file = join(testTempDir('demo-log'), 'logs', 'worker.log');
    const { logger, problems } = createFileLogger(file);
    logger.debug('below the level');
    logger.info('worker state', { state: 'RUNNING' });
    logger.warn('checkpoint copy failed', { taskToken: 'c2VjcmV0', attempt: 2 });
    logger.error('activity failed', { error: 'boom', big: 10n });
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['INFO', 'worker state'],
      ['WARN', 'checkpoint copy failed'],
      ['ERROR', 'activity failed'],
    ]);
    expect(lines[1]).toMatchObject({ taskToken: 'c2VjcmV0', attempt: 2 });
    expect(lines[2]?.meta).toContain('object'); // unserializable meta kept as text, not thrown
    expect(problems()).toBe(2);
    for (const spy of [out, err, log, error, warn]) expect(spy).not.toHaveBeenCalled();
    expect(existsSync(file)).toBe(true);
  });
});

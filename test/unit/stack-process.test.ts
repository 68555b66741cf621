import { describe, expect, it } from 'vitest';
import {
  ExitedBeforeReady,
  StackError,
  retryOnEarlyExit,
  startProcess,
  waitUntilReady,
} from '../../activities/providers/process';
import { testLogFile } from '../harness/paths';

describe('local stack readiness', () => {
  it('names the piece and its log when the process exits before it is ready', async () => {
    const proc = startProcess({
      name: 'broken',
      command: 'sh',
      args: ['-c', 'echo boom; exit 3'],
      logFile: testLogFile(`broken-${process.pid}-${Date.now()}.log`),
    });
    const failure = waitUntilReady(proc, 'BigQuery emulator (http://127.0.0.1:1)', async () => false, 10_000);
    await expect(failure).rejects.toThrow(StackError);
    await expect(failure).rejects.toThrow(
      /^BigQuery emulator \(http:\/\/127\.0\.0\.1:1\) exited \(code 3\) before it was ready; see .*broken-\d+-\d+\.log\nlast lines of its log:\nboom$/,
    );
  });

  it('starts again on an early exit, at most the given number of times, and passes other errors through', async () => {
    let calls = 0;
    const flaky = retryOnEarlyExit(3, async () => {
      calls++;
      if (calls < 3) throw new ExitedBeforeReady(`exited on attempt ${calls}`);
      return 'up';
    });
    await expect(flaky).resolves.toBe('up');
    expect(calls).toBe(3);

    calls = 0;
    const broken = retryOnEarlyExit(2, async () => {
      calls++;
      throw new ExitedBeforeReady(`exited on attempt ${calls}`);
    });
    await expect(broken).rejects.toThrow('exited on attempt 2');
    expect(calls).toBe(2);

    calls = 0;
    const timeout = retryOnEarlyExit(3, async () => {
      calls++;
      throw new StackError('did not come up');
    });
    await expect(timeout).rejects.toThrow('did not come up');
    expect(calls).toBe(1);
  });

  it('names the piece and the last probe error when it does not come up in time', async () => {
    const proc = startProcess({
      name: 'silent',
      command: 'sleep',
      args: ['5'],
      logFile: testLogFile('silent.log'),
    });
    try {
      const failure = waitUntilReady(
        proc,
        'Temporal dev server (127.0.0.1:1)',
        async () => {
          throw new Error('connection refused');
        },
        600,
      );
      await expect(failure).rejects.toThrow(
        /^Temporal dev server \(127\.0\.0\.1:1\) did not come up within 0\.6s \(connection refused\); see .*silent\.log$/,
      );
    } finally {
      await proc.stop();
    }
  });
});

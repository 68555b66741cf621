import { describe, expect, it } from 'vitest';
import { StackError, startProcess, waitUntilReady } from '../../activities/providers/process';
import { testLogFile } from '../harness/paths';

describe('local stack readiness', () => {
  it('names the piece and its log when the process exits before it is ready', async () => {
    const proc = startProcess({
      name: 'broken',
      command: 'sh',
      args: ['-c', 'echo boom; exit 3'],
      logFile: testLogFile('broken.log'),
    });
    const failure = waitUntilReady(proc, 'BigQuery emulator (http://127.0.0.1:1)', async () => false, 10_000);
    await expect(failure).rejects.toThrow(StackError);
    await expect(failure).rejects.toThrow(
      /^BigQuery emulator \(http:\/\/127\.0\.0\.1:1\) exited \(code 3\) before it was ready; see .*broken\.log$/,
    );
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

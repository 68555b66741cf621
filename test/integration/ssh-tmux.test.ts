import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshSession, shellQuote } from '../../activities/remote/ssh';
import { startTestSshHost } from '../harness/ssh';
import type { LocalSshHost } from '../../activities/providers/sshd';

describe('local SSH host (OpenSSH sshd + tmux) through ssh2', () => {
  let host: LocalSshHost;
  beforeAll(async () => {
    host = await startTestSshHost();
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('starts a detached tmux job, survives a dropped connection, and reads its output after reconnecting', async () => {
    const first = await SshSession.connect(host);
    const job = 'for i in 1 2 3; do echo line-$i >> $HOME/job.out; sleep 0.3; done; echo $? > $HOME/job.exit';
    await first.run(`tmux new-session -d -s smoke ${shellQuote(`bash -c ${shellQuote(job)} < /dev/null`)}`);
    first.destroy(); // the link drops while the job runs

    const second = await SshSession.connect(host);
    try {
      let exit = await second.exec('cat $HOME/job.exit');
      while (exit.code !== 0) {
        await second.run('sleep 0.2');
        exit = await second.exec('cat $HOME/job.exit');
      }
      expect(exit.stdout.trim()).toBe('0');
      expect((await second.run('cat $HOME/job.out')).split('\n').filter(Boolean)).toEqual([
        'line-1',
        'line-2',
        'line-3',
      ]);
      // The job ran on this host's own HOME and tmux server, not the machine's.
      expect(readFileSync(join(host.home, 'job.out'), 'utf8')).toContain('line-3');
      expect((await second.run('echo $TMUX_TMPDIR')).trim()).toBe(host.tmuxDir);
    } finally {
      second.close();
    }
  });

  it('refuses a host whose key does not match the pinned one', async () => {
    const wrongKey = Buffer.from(host.hostKey, 'base64');
    wrongKey.writeUInt8(wrongKey.readUInt8(wrongKey.length - 1) ^ 0xff, wrongKey.length - 1);
    await expect(SshSession.connect({ ...host, hostKey: wrongKey.toString('base64') })).rejects.toThrow(
      /does not match the pinned key/,
    );
  });

  it('fails a pending exec when the connection is cut instead of hanging', async () => {
    const session = await SshSession.connect(host);
    const pending = session.exec('sleep 30');
    setImmediate(() => session.destroy());
    await expect(pending).rejects.toThrow(/closed|failed/);
  });
  it('fails connect to a port that is not SSH with a clear error, and no unheard error crashes the process', async () => {
    // A server that accepts and says nothing: the handshake times out, then the link drops, and
    // ssh2 reports both (the second error once found nobody listening and crashed a worker).
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(SshSession.connect({ ...host, port }, { readyTimeoutMs: 500 })).rejects.toThrow(
        new RegExp(`cannot connect to ${host.username}@127\\.0\\.0\\.1:${port}`),
      );
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

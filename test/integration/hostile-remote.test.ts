import type { BigQuery } from '@google-cloud/bigquery';
import { ApplicationFailure } from '@temporalio/common';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSshHost } from '../../activities/providers/sshd';
import { SshSession, shellQuote } from '../../activities/remote/ssh';
import { createStackCheckActivities } from '../../activities/stack-check';
import { RemoteSession } from '../../activities/training/session';
import { startTestSshHost } from '../harness/ssh';
import { testTempDir } from '../harness/paths';

// What a VM (or whoever controls it) shows the worker is input too: names and links in a run's folder,
// and the names the stack check puts into SQL and a shell.
describe('hostile input from a VM and to the stack check', () => {
  let host: LocalSshHost;
  let local: string;
  beforeAll(async () => {
    host = await startTestSshHost('hostile-vm');
    local = testTempDir('hostile-download');
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('downloads a run folder without following symbolic links out of it', async () => {
    const remote = join(host.home, 'run-links');
    mkdirSync(join(remote, 'sub'), { recursive: true });
    writeFileSync(join(remote, 'model.json'), '{}');
    writeFileSync(join(remote, 'sub', 'weights.bin'), 'w');
    writeFileSync(join(host.dir, 'secret.txt'), 'worker secret');
    symlinkSync(join(host.dir, 'secret.txt'), join(remote, 'leak.txt'));
    symlinkSync(host.dir, join(remote, 'outside'));
    symlinkSync('..', join(remote, 'sub', 'loop'));
    const session = await RemoteSession.connect(host);
    try {
      const count = await session.download(remote, join(local, 'links'));
      expect(count).toBe(2);
      expect(readdirSync(join(local, 'links')).sort()).toEqual(['model.json', 'sub']);
      expect(readdirSync(join(local, 'links', 'sub'))).toEqual(['weights.bin']);
    } finally {
      session.close();
    }
  });

  it('refuses a folder holding a name that could leave the local folder', async () => {
    const remote = join(host.home, 'run-names');
    mkdirSync(remote, { recursive: true });
    writeFileSync(join(remote, '..\\..\\escape'), 'x');
    const session = await RemoteSession.connect(host);
    try {
      await expect(session.download(remote, join(local, 'names'))).rejects.toThrow(/unsafe file name/);
      expect(existsSync(join(local, 'escape'))).toBe(false);
    } finally {
      session.close();
    }
  });

  it('takes only identifiers into SQL and only a plain session name into the shell', async () => {
    const marker = join(host.home, 'pwned');
    // The warehouse is never reached: the names are refused first.
    const activities = createStackCheckActivities({ bigquery: {} as BigQuery, vm: () => host });
    for (const input of [
      { dataset: 'x`; DROP TABLE y; --', table: 't' },
      { dataset: 'ok', table: 't` WHERE 1=1 --' },
    ]) {
      await expect(activities.warehouseRoundTrip(input)).rejects.toThrow(/invalid (dataset|table) name/);
    }
    for (const session of [`a; touch ${marker}`, `$(touch ${marker})`, '-t', '../x']) {
      const error = await activities.remoteTmuxRoundTrip({ session }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).message).toMatch(/^session .*: expected a letter or digit/);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('quotes every word it puts into a remote shell: hostile strings arrive as they are', async () => {
    const marker = join(host.home, 'quoted-pwned');
    const words = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `'; touch ${marker}; '`,
      `"; touch ${marker}; "`,
      `a\ntouch ${marker}`,
      `\\'$HOME`,
      '-n',
      '*',
      '',
    ];
    const session = await SshSession.connect(host);
    try {
      for (const word of words) {
        const result = await session.exec(`printf %s ${shellQuote(word)}`);
        expect(result.stdout, JSON.stringify(word)).toBe(word);
      }
    } finally {
      session.destroy();
    }
    expect(existsSync(marker)).toBe(false);
  });
});

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../../activities/providers/paths';
import { mkdirSync } from 'node:fs';

/** Logs of servers that tests start, kept under .data/logs/test/ for a look after a failure. */
export function testLogFile(name: string): string {
  const dir = dataDir('logs', 'test');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** A fresh folder under .data/tmp/ (not /tmp: sockets and sshd paths stay short and inspectable). */
export function testTempDir(prefix: string): string {
  const dir = dataDir('tmp');
  mkdirSync(dir, { recursive: true });
  return mkdtempSync(join(dir, `${prefix}-`));
}

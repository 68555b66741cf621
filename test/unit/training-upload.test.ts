import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmProvider } from '../../activities/providers/types';
import { createTrainingActivities } from '../../activities/training';
import type { UploadInput } from '../../activities/training/upload';
import type { LocalSshHost } from '../../activities/providers/sshd';
import { TrainingErrorType } from '../../workflows/training-types';
import { testTempDir } from '../harness/paths';
import { startTestSshHost } from '../harness/ssh';

// The upload activity alone, over real SFTP to a real sshd; the provider is a stand-in for the host.
describe('uploadTrainingRun activity (real sshd + SFTP)', () => {
  let host: LocalSshHost;
  let activities: ReturnType<typeof createTrainingActivities>;
  let repo: string;
  let commit: string;
  let dataFile: string;
  beforeAll(async () => {
    host = await startTestSshHost('upload');
    const provider = { sshTarget: async () => host } as unknown as VmProvider;
    const dir = testTempDir('upload-src');
    activities = createTrainingActivities({ provider, registryDir: join(dir, 'registry') });
    repo = join(dir, 'repo');
    mkdirSync(join(repo, 'pkg'), { recursive: true });
    writeFileSync(join(repo, 'train.py'), 'print("committed")\n');
    writeFileSync(join(repo, 'pkg', 'model.py'), 'LAYERS = 3\n');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        encoding: 'utf8',
      });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'model code');
    commit = git('rev-parse', 'HEAD').trim();
    // The working tree moves on after the pin: the run must still get the pinned commit.
    writeFileSync(join(repo, 'train.py'), 'print("uncommitted edit")\n');
    dataFile = join(dir, 'train.ndjson');
    writeFileSync(dataFile, '{"x":1}\n');
  });
  afterAll(async () => {
    await host?.stop();
  });

  const upload = (input: Partial<UploadInput>) =>
    new MockActivityEnvironment().run(activities.uploadTrainingRun, {
      vmName: 'host',
      runId: 'up',
      code: { kind: 'git', repo, commit },
      command: 'python3 train.py',
      ...input,
    } as UploadInput) as Promise<{ uploaded: boolean }>;

  it('uploads the pinned commit (git archive), the inputs, the wrapper and the environment', async () => {
    expect(await upload({ inputs: [dataFile], env: { EPOCHS: "4 o'clock" } })).toEqual({ uploaded: true });
    const run = join(host.home, 'runs', 'up');
    expect(readFileSync(join(run, 'code', 'train.py'), 'utf8')).toBe('print("committed")\n');
    expect(readFileSync(join(run, 'code', 'pkg', 'model.py'), 'utf8')).toBe('LAYERS = 3\n');
    expect(readFileSync(join(run, 'inputs', 'train.ndjson'), 'utf8')).toBe('{"x":1}\n');
    expect(readFileSync(join(run, 'env.sh'), 'utf8')).toBe(`export EPOCHS='4 o'\\''clock'\n`);
    expect(statSync(join(run, 'wrapper.sh')).mode & 0o111).not.toBe(0);
    expect(existsSync(join(run, '.upload-code.tar'))).toBe(false);
  });

  it('fails with UPLOAD_FAILED, not retryable, for a commit the repository does not have', async () => {
    const error = await upload({ runId: 'bad', code: { kind: 'git', repo, commit: 'f'.repeat(40) } }).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: TrainingErrorType.UPLOAD_FAILED, nonRetryable: true });
  });

  it('leaves a launched run untouched', async () => {
    writeFileSync(join(host.home, 'runs', 'up', 'launched_at'), '1\n');
    expect(await upload({ code: { kind: 'folder', path: repo } })).toEqual({ uploaded: false });
    expect(readFileSync(join(host.home, 'runs', 'up', 'code', 'train.py'), 'utf8')).toBe(
      'print("committed")\n',
    );
  });
});

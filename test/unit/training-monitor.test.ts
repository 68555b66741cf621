import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmProvider } from '../../activities/providers/types';
import { createTrainingActivities } from '../../activities/training';
import type { MonitorInput } from '../../activities/training/monitor';
import type { LocalSshHost } from '../../activities/providers/sshd';
import type { MonitorHeartbeat } from '../../workflows/training-types';
import { groupAlive, trainerDir } from '../integration/fixtures/training';
import { testTempDir } from '../harness/paths';
import { startTestSshHost } from '../harness/ssh';

/** `MockActivityEnvironment.run` with the activity's own result type. */
const run = <A extends unknown[], R>(
  env: MockActivityEnvironment,
  fn: (...args: A) => Promise<R>,
  ...args: A
) => env.run(fn, ...args) as Promise<R>;

// The monitor activity alone, on a real sshd + tmux host; the provider is a stand-in that always
// reports the host as RUNNING (this is a test of the monitor, not of a provider).
describe('monitorTraining activity (MockActivityEnvironment, real sshd + tmux)', () => {
  let host: LocalSshHost;
  let activities: ReturnType<typeof createTrainingActivities>;
  let launchFile: string;
  beforeAll(async () => {
    host = await startTestSshHost('monitor');
    const provider: VmProvider = {
      kind: 'local',
      provision: async (spec) => ({ name: spec.name, status: 'RUNNING', labels: {} }),
      sshTarget: async () => host,
      status: async (name) => ({ name, status: 'RUNNING', labels: {} }),
      start: async (name) => ({ name, status: 'RUNNING', labels: {} }),
      stop: async () => undefined,
      delete: async () => undefined,
      list: async () => [],
    };
    const dir = testTempDir('monitor-registry');
    launchFile = join(dir, 'launches.txt');
    activities = createTrainingActivities({ provider, registryDir: dir });
  });
  afterAll(async () => {
    await host?.stop();
  });

  const monitorInput = (runId: string): MonitorInput => ({
    trainingId: runId,
    vmName: 'host',
    runId,
    pollIntervalMs: 100,
    providerCheckAfterMs: 2000,
    unreachableLimitMs: 10_000,
    maxBackoffMs: 500,
    syncCheckpoints: false,
  });

  async function launch(runId: string, env: Record<string, string>): Promise<string> {
    const mock = new MockActivityEnvironment();
    await mock.run(activities.uploadTrainingRun, {
      vmName: 'host',
      runId,
      code: { kind: 'folder' as const, path: trainerDir },
      command: 'python3 train.py',
      env: { TRAINER_LAUNCH_FILE: launchFile, ...env },
    });
    return (await run(mock, activities.launchTraining, { vmName: 'host', runId })).state;
  }

  it('heartbeats progress, and on cancel kills the remote process group and rethrows CancelledFailure', async () => {
    const runId = 'cancel-me';
    expect(await launch(runId, { TRAINER_STEPS: '500', TRAINER_STEP_SECONDS: '0.05' })).toBe('launched');
    expect(await launch(runId, {})).toBe('running'); // idempotent: a second launch starts nothing
    const env = new MockActivityEnvironment();
    const beats: MonitorHeartbeat[] = [];
    env.on('heartbeat', (details: MonitorHeartbeat) => {
      beats.push(details);
      if ((details.lastMetric?.step ?? -1) >= 3) env.cancel();
    });
    await expect(env.run(activities.monitorTraining, monitorInput(runId))).rejects.toBeInstanceOf(
      CancelledFailure,
    );
    expect(beats.at(-1)?.logTail).toContain('step 3');
    const pgid = Number(readFileSync(join(host.home, 'runs', runId, 'pgid'), 'utf8'));
    expect(groupAlive(pgid)).toBe(false);
    expect(readFileSync(launchFile, 'utf8')).toContain(`${runId} `);
  });

  it('a new attempt resumes from the heartbeat offsets and never relaunches', async () => {
    const runId = 'resume-me';
    expect(await launch(runId, { TRAINER_STEPS: '12', TRAINER_STEP_SECONDS: '0.05' })).toBe('launched');
    const first = new MockActivityEnvironment();
    const beats: MonitorHeartbeat[] = [];
    first.on('heartbeat', (details: MonitorHeartbeat) => beats.push(structuredClone(details)));
    const complete = await run(first, activities.monitorTraining, monitorInput(runId));
    expect(complete).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(complete.progress.metrics.count).toBe(12);

    // Replay a crash: a second attempt starts from a mid-run heartbeat of the first.
    const middle = beats.find((beat) => beat.metrics.count > 0 && beat.metrics.count < 12);
    expect(middle).toBeDefined();
    const second = new MockActivityEnvironment({ heartbeatDetails: middle, attempt: 2 });
    const resumed = await run(second, activities.monitorTraining, monitorInput(runId));
    // Every line counted once: the offsets carried over, the summary was not restarted.
    expect(resumed.progress.metrics).toEqual(complete.progress.metrics);
    expect(resumed.progress.metricsOffset).toBe(complete.progress.metricsOffset);
    expect(resumed.progress.reconnects).toBe(middle!.reconnects + 1);
    expect(await launch(runId, {})).toBe('finished');
    const launches = readFileSync(launchFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith(`${runId} `));
    expect(launches).toHaveLength(1);
  });
});

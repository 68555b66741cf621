import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { VmErrorType, vmFailure } from '../../activities/providers/errors';
import type { VmInfo, VmProvider, VmSpec } from '../../activities/providers/types';
import { createVmActivities } from '../../activities/vm';

// Failing activities are logged at WARN; these tests expect failures, so keep the report quiet.
const quiet = { logger: new DefaultLogger('ERROR') };

const running: VmInfo = { name: 'rt-a', status: 'RUNNING', labels: {} };

/** A provider stand-in whose methods each test fills in. */
function standIn(overrides: Partial<VmProvider>): VmProvider {
  const unused = () => Promise.reject(new Error('not used by this test'));
  return {
    kind: 'local',
    provision: unused,
    sshTarget: unused,
    status: unused,
    start: unused,
    stop: unused,
    delete: unused,
    list: unused,
    ...overrides,
  };
}

describe('VM activities', () => {
  it('heartbeat while a slow provision runs, then return the instance', async () => {
    let finish: (info: VmInfo) => void = () => undefined;
    const seen: VmSpec[] = [];
    const activities = createVmActivities(
      standIn({
        provision: (spec) => {
          seen.push(spec);
          return new Promise((resolve) => (finish = resolve));
        },
      }),
    );
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 150 }, quiet);
    const heartbeats: unknown[] = [];
    // The provider answers only after the activity heartbeated: no clock in the test.
    env.on('heartbeat', (details: unknown) => {
      heartbeats.push(details);
      finish(running);
    });
    const spec = { name: 'rt-a', machineImage: 'cpu-python-template-prod' };
    await expect(env.run(activities.provisionVm, spec)).resolves.toEqual(running);
    expect(seen).toEqual([spec]);
    expect(heartbeats[0]).toEqual({ waitingFor: 'provision rt-a' });
  });

  it('pass typed provider failures through unchanged', async () => {
    const failure = vmFailure(VmErrorType.MACHINE_IMAGE_NOT_FOUND, 'machine image "x" not found');
    const activities = createVmActivities(standIn({ provision: () => Promise.reject(failure) }));
    const error = await new MockActivityEnvironment(undefined, quiet)
      .run(activities.provisionVm, { name: 'rt-a', machineImage: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBe(failure);
    expect((error as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('turn unexpected provider errors into retryable VM_PROVIDER_ERROR failures naming the call', async () => {
    const activities = createVmActivities(
      standIn({ stop: () => Promise.reject(new Error('EACCES: permission denied')) }),
    );
    const error = await new MockActivityEnvironment(undefined, quiet)
      .run(activities.stopVm, 'rt-b')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: VmErrorType.VM_PROVIDER_ERROR, nonRetryable: false });
    expect((error as Error).message).toBe('stop rt-b: EACCES: permission denied');
  });

  it('forward names and labels to the provider', async () => {
    const calls: string[] = [];
    const activities = createVmActivities(
      standIn({
        status: async (name) => (calls.push(`status ${name}`), running),
        delete: async (name) => void calls.push(`delete ${name}`),
        list: async (labels) => (calls.push(`list ${JSON.stringify(labels)}`), [running]),
      }),
    );
    const env = new MockActivityEnvironment(undefined, quiet);
    expect(await env.run(activities.vmStatus, 'rt-a')).toEqual(running);
    await env.run(activities.deleteVm, 'rt-a');
    expect(await env.run(activities.listVms, { run_id: 'r1' })).toEqual([running]);
    expect(calls).toEqual(['status rt-a', 'delete rt-a', 'list {"run_id":"r1"}']);
  });
});

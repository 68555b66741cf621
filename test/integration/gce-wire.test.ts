import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { VmErrorType } from '../../activities/providers/errors';
import { createComputeClients, createVmProvider, type ComputeClients } from '../../activities/providers';
import type { VmProvider } from '../../activities/providers/types';
import { startComputeEngineDouble, type ComputeEngineDouble } from '../harness/compute-engine';
import { testTempDir } from '../harness/paths';
import { failureOf } from '../harness/failures';

const PROJECT = 'retrainer-test';
const ZONE = 'europe-west1-b';
const ZONE_PATH = `/compute/v1/projects/${PROJECT}/zones/${ZONE}`;

describe('gce provider at the wire: the real @google-cloud/compute client against a Compute Engine double', () => {
  let gce: ComputeEngineDouble;
  let clients: ComputeClients;
  let provider: VmProvider;
  const since = () => {
    const start = gce.requests.length;
    return () => gce.requests.slice(start).map((r) => `${r.method} ${r.path.replace(ZONE_PATH, '')}`);
  };

  beforeAll(async () => {
    gce = await startComputeEngineDouble({
      project: PROJECT,
      zone: ZONE,
      machineImages: ['cpu-python-template-prod', 'tensorflow-template-prod'],
    });
    const keyFile = join(testTempDir('gce-wire'), 'id_ed25519');
    writeFileSync(keyFile, 'test-private-key');
    const config = loadConfig({
      VM_PROVIDER: 'gce',
      GCE_PROJECT: PROJECT,
      GCE_ZONE: ZONE,
      GCE_API_ENDPOINT: gce.url,
      GCE_SSH_USER: 'trainer',
      GCE_SSH_PRIVATE_KEY_FILE: keyFile,
    });
    clients = createComputeClients(config);
    provider = createVmProvider(config, { compute: clients, pollIntervalMs: 5 });
  });

  afterAll(async () => {
    await clients?.instances.close();
    await clients?.operations.close();
    await gce?.close();
  });

  beforeEach(() => gce.setPageSize(500));

  it('creates an instance from a machine image with machine type, GPU and labels, waiting on its operation', async () => {
    const calls = since();
    const info = await provider.provision({
      name: 'rt-vs-2026q4-share-train',
      machineImage: 'tensorflow-template-prod',
      machineType: 'n1-standard-8',
      accelerator: { type: 'nvidia-tesla-t4', count: 1 },
      labels: { run_id: 'visits-scaling_2026q4', step: 'share_train' },
    });
    expect(info).toEqual({
      name: 'rt-vs-2026q4-share-train',
      status: 'RUNNING',
      labels: { run_id: 'visits-scaling_2026q4', step: 'share_train' },
      persistent: false,
    });
    const insert = gce.requests.find((r) => r.method === 'POST' && r.path === `${ZONE_PATH}/instances`);
    expect(insert?.query).toEqual({
      sourceMachineImage: `projects/${PROJECT}/global/machineImages/tensorflow-template-prod`,
    });
    expect(insert?.body).toEqual({
      name: 'rt-vs-2026q4-share-train',
      machineType: `zones/${ZONE}/machineTypes/n1-standard-8`,
      guestAccelerators: [
        {
          acceleratorType: `projects/${PROJECT}/zones/${ZONE}/acceleratorTypes/nvidia-tesla-t4`,
          acceleratorCount: 1,
        },
      ],
      scheduling: { onHostMaintenance: 'TERMINATE' },
      labels: { run_id: 'visits-scaling_2026q4', step: 'share_train' },
    });
    // Looked first (idempotent), inserted, waited until DONE (RUNNING, then DONE), then saw it boot.
    expect(calls()).toEqual([
      'GET /instances/rt-vs-2026q4-share-train',
      'POST /instances',
      expect.stringMatching(/^POST \/operations\/operation-\d+-insert\/wait$/),
      expect.stringMatching(/^POST \/operations\/operation-\d+-insert\/wait$/),
      'GET /instances/rt-vs-2026q4-share-train',
      'GET /instances/rt-vs-2026q4-share-train',
    ]);
    // A retried provision finds it running and changes nothing.
    const retry = since();
    await provider.provision({ name: 'rt-vs-2026q4-share-train', machineImage: 'tensorflow-template-prod' });
    expect(retry()).toEqual([
      'GET /instances/rt-vs-2026q4-share-train',
      'GET /instances/rt-vs-2026q4-share-train',
    ]);
  });

  it('stops, starts and deletes an instance, each waiting on its zone operation', async () => {
    await provider.provision({ name: 'rt-cycle', machineImage: 'cpu-python-template-prod' });
    const stop = since();
    await provider.stop('rt-cycle');
    expect(stop()).toEqual([
      'GET /instances/rt-cycle',
      'POST /instances/rt-cycle/stop',
      expect.stringMatching(/^POST \/operations\/operation-\d+-stop\/wait$/),
      expect.stringMatching(/^POST \/operations\/operation-\d+-stop\/wait$/),
      'GET /instances/rt-cycle',
    ]);
    expect((await provider.status('rt-cycle')).status).toBe('TERMINATED');
    await provider.stop('rt-cycle'); // already stopped: no request but a GET
    expect((await provider.start('rt-cycle')).status).toBe('RUNNING');
    expect(gce.requests.filter((r) => r.path.endsWith('/rt-cycle/start'))).toHaveLength(1);

    const del = since();
    await provider.delete('rt-cycle');
    expect(del()).toEqual([
      'GET /instances/rt-cycle',
      'DELETE /instances/rt-cycle',
      expect.stringMatching(/^POST \/operations\/operation-\d+-delete\/wait$/),
      expect.stringMatching(/^POST \/operations\/operation-\d+-delete\/wait$/),
    ]);
    expect(await provider.status('rt-cycle')).toEqual({ name: 'rt-cycle', status: 'NOT_FOUND', labels: {} });
    const again = since();
    await provider.delete('rt-cycle'); // 404 → nothing to do
    expect(again()).toEqual(['GET /instances/rt-cycle']);
    expect((await failureOf(provider.start('rt-cycle'))).type).toBe(VmErrorType.VM_NOT_FOUND);
  });

  it('starts and stops a persistent instance without ever creating or deleting it', async () => {
    gce.seed({ name: 'quality-notebook', status: 'TERMINATED', labels: { persistent: 'true' } });
    const calls = since();
    const info = await provider.provision({ name: 'quality-notebook', persistent: true });
    expect(info).toMatchObject({ status: 'RUNNING', persistent: true });
    await provider.stop('quality-notebook');
    await provider.delete('quality-notebook'); // the reaper's delete only stops it
    expect(gce.instances.get('quality-notebook')?.status).toBe('TERMINATED');
    const methods = calls().filter((call) => !call.startsWith('GET') && !call.includes('/wait'));
    expect(methods).toEqual([
      'POST /instances/quality-notebook/start',
      'POST /instances/quality-notebook/stop',
    ]);
    const missing = await failureOf(provider.provision({ name: 'quality-other', persistent: true }));
    expect(missing.type).toBe(VmErrorType.VM_NOT_FOUND);
    expect(missing.nonRetryable).toBe(true);
  });

  it('sets the labels of a reused persistent instance to the current run, by label fingerprint', async () => {
    gce.seed({
      name: 'quality-lab',
      status: 'TERMINATED',
      labels: { persistent: 'true', run_id: 'old-run', team: 'quality' },
      labelFingerprint: 'fp-seeded',
    });
    const calls = since();
    await provider.provision({ name: 'quality-lab', persistent: true, labels: { run_id: 'new-run' } });
    expect(gce.instances.get('quality-lab')?.labels).toEqual({
      persistent: 'true',
      run_id: 'new-run',
      team: 'quality',
    });
    const setLabels = gce.requests.find((r) => r.path.endsWith('/instances/quality-lab/setLabels'));
    expect(setLabels?.body).toMatchObject({ labelFingerprint: 'fp-seeded' });
    expect((await provider.list({ run_id: 'new-run' })).map((vm) => vm.name)).toEqual(['quality-lab']);
    // Labels already right: no call at all.
    await provider.stop('quality-lab');
    const again = since();
    await provider.provision({ name: 'quality-lab', persistent: true, labels: { run_id: 'new-run' } });
    const setCall = (call: string) => call === 'POST /instances/quality-lab/setLabels';
    expect(again().filter(setCall)).toEqual([]);
    expect(calls().filter(setCall)).toHaveLength(1);
  });

  it('gives SSH coordinates with the host key pinned from guest attributes, and refuses without one', async () => {
    await provider.provision({ name: 'rt-ssh', machineImage: 'cpu-python-template-prod' });
    const vm = gce.instances.get('rt-ssh');
    expect(vm).toBeDefined();
    const noKey = await failureOf(provider.sshTarget('rt-ssh'));
    expect(noKey.type).toBe(VmErrorType.VM_HOST_KEY_UNAVAILABLE);
    expect(noKey.nonRetryable).toBe(false);
    if (vm) vm.hostKeys = { 'ssh-rsa': 'AAAAB3NzaRSA', 'ssh-ed25519': 'AAAAC3NzaED25519' };
    const target = await provider.sshTarget('rt-ssh');
    expect(target).toMatchObject({
      host: vm?.networkInterfaces?.[0]?.networkIP,
      port: 22,
      username: 'trainer',
    });
    expect(target.hostKey).toBe('AAAAC3NzaED25519');
    expect(target.privateKey.toString()).toBe('test-private-key');
    const attributes = gce.requests.filter((r) => r.path.endsWith('/rt-ssh/getGuestAttributes'));
    expect(attributes.at(-1)?.query).toEqual({ queryPath: 'hostkeys/' });
    await provider.stop('rt-ssh');
    expect((await failureOf(provider.sshTarget('rt-ssh'))).type).toBe(VmErrorType.VM_NOT_RUNNING);
  });

  it('fails with typed errors: unknown machine image, and an operation error surfaced with its code', async () => {
    const image = await failureOf(
      provider.provision({ name: 'rt-typo', machineImage: 'tensorflow-template-typo' }),
    );
    expect(image.type).toBe(VmErrorType.MACHINE_IMAGE_NOT_FOUND);
    expect(image.nonRetryable).toBe(true);
    expect(image.message).toContain('tensorflow-template-typo');

    gce.failNext('insert', [
      { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: `The zone '${ZONE}' does not have enough resources.` },
    ]);
    const capacity = await failureOf(
      provider.provision({ name: 'rt-full', machineImage: 'cpu-python-template-prod' }),
    );
    expect(capacity.type).toBe(VmErrorType.VM_CAPACITY);
    expect(capacity.nonRetryable).toBe(false);
    expect(capacity.message).toContain('ZONE_RESOURCE_POOL_EXHAUSTED');
    expect(capacity.message).toContain('does not have enough resources');
  });

  it('lists instances by labels with a Compute Engine filter, following pages', async () => {
    for (const name of ['rt-list-a', 'rt-list-b', 'rt-list-c'])
      await provider.provision({
        name,
        machineImage: 'cpu-python-template-prod',
        labels: { run_id: 'list-run' },
      });
    gce.setPageSize(2);
    const calls = since();
    const found = await provider.list({ run_id: 'list-run' });
    expect(found.map((vm) => vm.name)).toEqual(['rt-list-a', 'rt-list-b', 'rt-list-c']);
    const lists = gce.requests.slice(-calls().length);
    expect(lists.map((r) => r.query)).toEqual([
      { filter: '(labels.run_id = "list-run")' },
      { filter: '(labels.run_id = "list-run")', pageToken: '2' },
    ]);
  });
});

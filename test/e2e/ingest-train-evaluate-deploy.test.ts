import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { LocalVmProvider } from '../../activities/providers/local';
import { projectRoot } from '../../activities/providers/paths';
import { createRegistryActivities } from '../../activities/registry';
import { loadConfig, type Config } from '../../config';
import { runDemo } from '../../scripts/demo/run-demo';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

const PIPELINE = 'ingest-train-evaluate-deploy';

describe('ingest-train-evaluate-deploy end to end: HTTP API, dev server, emulator, sshd + tmux VM', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  let config: Config;
  const dir = testTempDir('itd-e2e');
  beforeAll(async () => {
    [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    Object.assign(process.env, { DATA_DIR: dir, REGISTRY_DIR: '', LOCAL_VM_ROOT: '', VM_PROVIDER: 'local' });
    config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: `itd-${randomUUID()}`,
      BIGQUERY_PROJECT: bq.emulator.projectId,
      BIGQUERY_API_ENDPOINT: bq.emulator.apiEndpoint,
      API_TOKENS: 'e2e:admin:e2e-token',
    });
  });
  afterAll(async () => {
    const provider = new LocalVmProvider({
      root: join(dir, 'vms'),
      imagesDir: join(projectRoot, 'machine-images'),
    });
    for (const vm of await provider.list()) await provider.stop(vm.name);
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  const demo = (params: Record<string, number> = {}) =>
    runDemo({
      config,
      bigquery: bq.bigquery,
      connection: env.nativeConnection,
      pipeline: PIPELINE,
      params,
      print: () => undefined,
    });
  const states = (view: Awaited<ReturnType<typeof demo>>['view']) =>
    Object.fromEntries(view.run.steps.map((step) => [step.id, step.state]));

  it('lists the pipeline and rejects bad parameters at start, naming the field', async () => {
    const app = await createApp(config);
    await app.init();
    try {
      const http = app.getHttpServer() as App;
      const auth = { Authorization: 'Bearer e2e-token' };
      const listed = await request(http).get('/pipelines').set(auth).expect(200);
      expect(JSON.stringify(listed.body)).toContain(PIPELINE);
      for (const [params, field] of [
        [{ epochs: 'many' }, 'epochs'],
        [{ vm_template: '--delete-all' }, 'vm_template'],
        [{ l2_regularisation: 0.1 }, 'l2_regularisation'],
        [{ holdout_percent: 0 }, 'holdout_percent'],
        [{ holdout_percent: 95 }, 'holdout_percent'],
        [{ holdout_percent: '--holdout_percent=50' }, 'holdout_percent'],
      ] as const) {
        const response = await request(http)
          .post('/runs')
          .set(auth)
          .send({ pipeline: PIPELINE, params })
          .expect(400);
        expect(JSON.stringify(response.body)).toContain(`parameter ${field}`);
      }
    } finally {
      await app.close();
    }
  });

  it('deploys the first model, reuses every output of an identical run, keeps a better deployed model', async () => {
    const first = await demo();
    expect(first.view.run.state).toBe('succeeded');
    expect(states(first.view)).toEqual({
      ingest: 'succeeded',
      train: 'succeeded',
      evaluate: 'succeeded',
      deploy: 'succeeded',
      retention: 'succeeded',
    });
    const evaluation = first.view.run.steps.find((s) => s.id === 'evaluate')?.info as {
      promote: boolean;
      models: { house_prices: { challenger: number; champion: number | null; rows: number } };
    };
    // No model was deployed yet: the first one is deployed; its held-out error is a real model's.
    expect(evaluation.promote).toBe(true);
    expect(evaluation.models.house_prices.champion).toBeNull();
    expect(evaluation.models.house_prices.rows).toBeGreaterThan(50);
    expect(evaluation.models.house_prices.challenger).toBeLessThan(25);
    const registry = createRegistryActivities(join(dir, 'registry'));
    const deployed = (await registry.getModelAlias({ model: 'house_prices' }))?.version;
    expect(deployed).toMatch(/^\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/);

    // Luigi's rule: the same parameters again find every finished output; no VM is started.
    const vmsBefore = readdirSync(join(dir, 'vms')).length;
    const second = await demo();
    expect(states(second.view)).toEqual({
      ingest: 'cached',
      train: 'cached',
      evaluate: 'cached',
      deploy: 'cached',
      retention: 'succeeded',
    });
    expect(readdirSync(join(dir, 'vms'))).toHaveLength(vmsBefore);

    // A barely trained model is worse on the held-out records: it is not deployed.
    const third = await demo({ epochs: 2 });
    expect(states(third.view)).toMatchObject({ ingest: 'cached', train: 'succeeded', deploy: 'succeeded' });
    const verdict = third.view.run.steps.find((s) => s.id === 'evaluate')?.info as { promote: boolean };
    expect(verdict.promote).toBe(false);
    expect((await registry.getModelAlias({ model: 'house_prices' }))?.version).toBe(deployed);
    // Three runs, two of them training on a VM and scoring with scikit-learn: 2 min alone, up to 5 on a
    // machine shared with other suites.
  }, 400_000);
});

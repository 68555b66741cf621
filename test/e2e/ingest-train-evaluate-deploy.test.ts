import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistryActivities } from '../../activities/registry';
import { runDemo } from '../../scripts/demo/run-demo';
import { expectListedAndBadParamsRejected, useE2eStack } from '../harness/e2e-stack';

const PIPELINE = 'ingest-train-evaluate-deploy';

describe('ingest-train-evaluate-deploy end to end: HTTP API, dev server, emulator, sshd + tmux VM', () => {
  const stack = useE2eStack('itd');

  const demo = (params: Record<string, number> = {}) =>
    runDemo({
      config: stack.config,
      bigquery: stack.bq.bigquery,
      connection: stack.env.nativeConnection,
      pipeline: PIPELINE,
      params,
      print: () => undefined,
    });
  const states = (view: Awaited<ReturnType<typeof demo>>['view']) =>
    Object.fromEntries(view.run.steps.map((step) => [step.id, step.state]));

  it('lists the pipeline and rejects bad parameters at start, naming the field', async () => {
    await expectListedAndBadParamsRejected(stack.config, PIPELINE, [
      [{ epochs: 'many' }, 'epochs'],
      [{ vm_template: '--delete-all' }, 'vm_template'],
      [{ l2_regularisation: 0.1 }, 'l2_regularisation'],
      [{ holdout_percent: 0 }, 'holdout_percent'],
      [{ holdout_percent: 95 }, 'holdout_percent'],
      [{ holdout_percent: '--holdout_percent=50' }, 'holdout_percent'],
    ]);
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
    const registry = createRegistryActivities(join(stack.dir, 'registry'));
    const deployed = (await registry.getModelAlias({ model: 'house_prices' }))?.version;
    expect(deployed).toMatch(/^\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/);

    // Luigi's rule: the same parameters again find every finished output; no VM is started.
    const vmsBefore = readdirSync(join(stack.dir, 'vms')).length;
    const second = await demo();
    expect(states(second.view)).toEqual({
      ingest: 'cached',
      train: 'cached',
      evaluate: 'cached',
      deploy: 'cached',
      retention: 'succeeded',
    });
    expect(readdirSync(join(stack.dir, 'vms'))).toHaveLength(vmsBefore);

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

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistryActivities } from '../../activities/registry';
import { runDemo } from '../../scripts/demo/run-demo';
import { useE2eStack } from '../harness/e2e-stack';

describe('the demo: visits-scaling driven end to end through the HTTP API only', () => {
  const stack = useE2eStack('demo');

  it('starts the run, approves the promotion and sees it finish, all over HTTP', async () => {
    // The worker reads its VM and registry settings from the environment, as in production.
    const { config, dir, bq, env } = stack;
    const lines: string[] = [];
    const { workflowId, view, cutoff, facts } = await runDemo({
      config,
      bigquery: bq.bigquery,
      connection: env.nativeConnection,
      print: (line) => lines.push(line),
      trainSeconds: 6,
    });

    expect(view.status).toBe('COMPLETED');
    expect(view.run.state).toBe('succeeded');
    expect(view.run.cutoff).toBe(cutoff);
    // The approval came through POST /runs/:id/approve (an Update), recorded with the token's name as its actor.
    expect(view.run.operatorActions).toEqual([
      expect.objectContaining({
        signal: 'approve',
        accepted: true,
        actor: 'e2e',
        payload: expect.objectContaining({ step: 'promote' }),
      }),
    ]);
    expect(lines.some((line) => line.includes(`POST /runs/${encodeURIComponent(workflowId)}/approve`))).toBe(
      true,
    );
    // Progress was followed through GET /runs/:id: step changes and training loss from heartbeats.
    expect(lines.some((line) => /✓ quality\.train\s+succeeded/.test(line))).toBe(true);
    expect(lines.some((line) => /training .*\.train: step \d+, loss \d/.test(line))).toBe(true);
    // The out-of-sample verdict: per model, both MSEs on the same held-out rows, with the margin.
    for (const model of ['visits_share', 'quality', 'trend', 'real_visits']) {
      expect(lines.join('\n')).toMatch(
        new RegExp(
          `${model} +on [1-9]\\d* held-out rows: challenger MSE [\\d.e+-]+ vs production [\\d.e+-]+, margin 2% → (better|tie)`,
        ),
      );
    }
    expect(lines).toContain(
      '  evaluation (out of sample): promoted (' +
        (view.run.steps.find((s) => s.id === 'evaluate')?.info as { reason: string }).reason +
        ')',
    );
    // Each training step's VM time and estimated cost, in GET /runs/:id and in the summary.
    const trainings = ['visits_share.train', 'quality.train', 'trend.train', 'real_visits.train'];
    expect(Object.keys(view.run.cost?.steps ?? {}).sort()).toEqual([...trainings].sort());
    expect(view.run.cost?.vmHours).toBeGreaterThan(0);
    expect(view.run.cost?.usd).toBeGreaterThan(0);
    expect(lines.some((line) => /^VM time [\d.]+ s, estimated cost \$[\d.]+/.test(line))).toBe(true);
    // The new models are production now.
    const registry = createRegistryActivities(join(dir, 'registry'));
    expect(facts.previousVersion).toEqual(expect.any(String));
    for (const model of ['visits_share', 'quality', 'trend', 'real_visits']) {
      const alias = await registry.getModelAlias({ model });
      expect(alias?.version, model).not.toBe(facts.previousVersion);
    }
    // The whole pipeline (4 trainings, 5 SQL steps per model, evaluate, promotion): ~45 s on an idle
    // 2-core machine; the margin is for a loaded one.
  }, 180_000);
});

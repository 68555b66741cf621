import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolvePlan } from '../../activities/plan';
import { stepKinds } from '../../workers/kinds';
import { assertVmName } from '../../activities/providers/naming';
import { judgeChallenger, TIE_RULE } from '../../activities/kinds/models';
import { tablesToDelete } from '../../activities/kinds/release';
import { trainingIds } from '../../activities/kinds/training';
import { downstreamOf } from '../../pipelines/core/graph';
import { createPipelineRegistry } from '../../pipelines';
import { gapfillKind } from '../../pipelines/visits-scaling/kinds/gapfill';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import type { Plan } from '../../pipelines/core/types';
import type { StepStatus } from '../../workflows/definitions';

// SQL steps read their files at the pinned commit: pin this checkout's HEAD.
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const pipelines = createPipelineRegistry([visitsScalingPipeline]);
const plan = (params: Record<string, string | number | boolean> = {}): Promise<Plan> =>
  resolvePlan(
    { pipelines, kinds: stepKinds },
    {
      pipeline: 'visits-scaling',
      workflowId: 'visits-scaling/unit',
      startTime: '2026-10-02T08:00:00Z',
      cutoff: '2026-09-30',
      params: { models_ref: commit, ...params },
    },
  );
const step = (p: Plan, id: string) => p.steps.find((s) => s.id === id)!;
const defined = (id: string) => visitsScalingPipeline.steps.find((s) => s.id === id)!;

describe('the visits-scaling definition', () => {
  it('runs real visits after the three other models and promotes, fills the gap and cleans up last', () => {
    expect(defined('real_visits.data').after.sort()).toEqual([
      'quality.predict',
      'trend.predict',
      'visits_share.predict',
    ]);
    expect(defined('promote').after).toContain('evaluate');
    expect(defined('gapfill').after).toEqual(['promote']);
    expect(defined('cleanup')).toMatchObject({ after: ['gapfill'], cleanup: true });
    expect([...downstreamOf(visitsScalingPipeline.steps, 'prepare')].length).toBe(
      visitsScalingPipeline.steps.length,
    );
  });

  it('trains every model on a VM that waits for an operator after a failure, with the seed parameter names', () => {
    const trains = visitsScalingPipeline.steps.filter((s) => s.kind === 'train');
    expect(trains.map((s) => s.id)).toEqual([
      'visits_share.train',
      'quality.train',
      'trend.train',
      'real_visits.train',
    ]);
    for (const train of trains)
      expect(train).toMatchObject({ onFailure: 'wait', cache: true, outputs: ['model'] });
    for (const name of ['visits_share_vm_template', 'trend_vm_template', 'real_visits_vm_template']) {
      expect(visitsScalingPipeline.parameters[name]?.choices).toEqual([
        'cpu-python-template-prod',
        'tensorflow-template-prod',
      ]);
    }
  });

  it('resolves quality onto its persistent instance with the train machine and accelerator', async () => {
    const quality = step(await plan(), 'quality.train');
    expect(quality.commit).toBe(commit);
    expect(quality.spec.vm).toEqual({
      name: 'quality-notebook',
      persistent: true,
      machineImage: 'tensorflow-template-prod',
      machineType: 'n1-standard-8',
      accelerator: 'nvidia-tesla-t4:1',
    });
    expect(quality.spec.policy).toEqual({ acceptCheckpointAfter: '5 hours', maxRetries: 2 });
    expect(
      step(await plan({ trend_vm_template: 'tensorflow-template-prod' }), 'trend.train').spec.vm,
    ).toEqual({ machineImage: 'tensorflow-template-prod' });
  });

  it('changes only trend and what follows it when trend is drilled to fail', async () => {
    const [normal, drilled] = await Promise.all([plan(), plan({ trend_fail_at_step: 5 })]);
    const changed = normal.steps.filter((s) => step(drilled, s.id).cacheKey !== s.cacheKey).map((s) => s.id);
    expect(changed).toEqual([
      'trend.train',
      'trend.predict',
      'real_visits.data',
      'real_visits.holdout',
      'real_visits.train',
      'evaluate',
      'promote',
      'gapfill',
      'cleanup',
    ]);
  });
});

describe('the gap fill', () => {
  it('predicts with the models the run promotes, from the sources as they are at promotion', async () => {
    const resolved = await plan();
    const gapfill = step(resolved, 'gapfill');
    const models = gapfill.spec.models as Record<string, { artifact: string }>;
    for (const model of ['visits_share', 'quality', 'trend', 'real_visits'])
      expect(models[model]?.artifact).toBe(step(resolved, `${model}.train`).outputs.model);
    expect(gapfill.spec).toMatchObject({
      cutoff: '2026-09-30',
      until: '2099-12-31',
      sources: { visits: 'visits_source.poi_visits_daily', clusters: 'visits_source.clusters_daily' },
    });
    // No step computes gap rows before the promotion (their days would be those present at the start).
    expect(resolved.steps.map((s) => s.id)).not.toContain('real_visits.gap');
    expect(gapfill.after).toEqual(['promote']);
    expect(gapfillKind.spec.safeParse(gapfill.spec).success).toBe(true);
    // The promoted quality and trend tables are filled for the same days, by their own queries.
    expect(gapfill.spec.prediction_tables).toEqual({
      quality: {
        target: 'visits_production.quality_predictions',
        write: 'pipelines/visits-scaling/sql/quality_predictions_gapfill.sql',
      },
      trend: {
        target: 'visits_production.trend_predictions',
        write: 'pipelines/visits-scaling/sql/trend_predictions_gapfill.sql',
      },
    });
    expect(gapfillKind.reads?.(gapfillKind.spec.parse(gapfill.spec))).toEqual(
      expect.arrayContaining([
        'pipelines/visits-scaling/sql/poi_visits_scaled_gapfill.sql',
        'pipelines/visits-scaling/sql/quality_predictions_gapfill.sql',
        'pipelines/visits-scaling/sql/trend_predictions_gapfill.sql',
      ]),
    );
    // A plan of version 3 (in flight) has no prediction tables: still valid, fills the target alone.
    const { prediction_tables: _, ...version3 } = gapfill.spec;
    expect(gapfillKind.spec.safeParse(version3).success).toBe(true);
    expect(
      gapfillKind.spec.safeParse({
        ...gapfill.spec,
        prediction_tables: { quality: { target: 'x.y', write: '../../etc/passwd.sql' } },
      }).success,
    ).toBe(false);
  });

  it('still takes the spec of runs planned before version 3 (a MERGE of the predictions made during the run)', () => {
    const planned = {
      promotion: 'smc_visits_scaling.promote_record_1a2b3c4d',
      predictions: 'smc_visits_scaling.real_visits_predict_table_1a2b3c4d',
      target: 'visits_production.poi_visits_scaled',
      sql: 'pipelines/visits-scaling/sql/poi_visits_scaled_merge.sql',
      version_of: 'real_visits',
      cutoff: '2026-09-30',
    };
    expect(gapfillKind.spec.safeParse(planned).success).toBe(true);
    expect(gapfillKind.reads?.(gapfillKind.spec.parse(planned))).toEqual([planned.sql]);
    // A misspelt or hostile field is still refused, not taken for the old shape.
    expect(gapfillKind.spec.safeParse({ ...planned, sql: '../../etc/passwd.sql' }).success).toBe(false);
    expect(gapfillKind.spec.safeParse({ ...planned, extra: 1 }).success).toBe(false);
  });
});

describe('out-of-sample evaluation', () => {
  it('scores every model on its held-out rows, never on its training table, with its own margin', async () => {
    const resolved = await plan({ trend_margin: 0.1 });
    const evaluate = step(resolved, 'evaluate');
    const models = evaluate.spec.models as { model: string; data: string; margin: number }[];
    for (const { model, data, margin } of models) {
      expect(data).toBe(step(resolved, `${model}.holdout`).outputs.table);
      expect(data).not.toBe(step(resolved, `${model}.data`).outputs.table);
      expect(step(resolved, `${model}.holdout`).after).toEqual([`${model}.data`]);
      expect([model, margin]).toEqual([model, model === 'trend' ? 0.1 : 0.02]);
    }
    expect(evaluate.after).toEqual(expect.arrayContaining(models.map((m) => `${m.model}.holdout`)));
    // The held-out window is a parameter of every data query but quality's (met area 11 is its hold-out).
    for (const id of ['visits_share.data', 'trend.data', 'real_visits.data'])
      expect((step(resolved, id).spec.params as { holdout_days: number }).holdout_days).toBe(28);
  });

  it('promotes a better challenger and one within the margin (the tie rule), not a worse one', () => {
    expect(judgeChallenger(0.9, 1, 0.02)).toEqual({
      relativeGap: expect.closeTo(-0.1),
      outcome: 'better',
      passed: true,
    });
    expect(judgeChallenger(1, 1, 0)).toMatchObject({ outcome: 'better', passed: true });
    // The chaos run's 7.3e-8 relative gap is noise: a tie, promoted.
    expect(judgeChallenger(1 + 7.3e-8, 1, 0.02)).toMatchObject({ outcome: 'tie', passed: true });
    expect(judgeChallenger(1.02, 1, 0.02)).toMatchObject({ outcome: 'tie', passed: true });
    expect(judgeChallenger(1.0201, 1, 0.02)).toMatchObject({ outcome: 'worse', passed: false });
    expect(judgeChallenger(1e-9, 0, 0.5)).toMatchObject({ outcome: 'worse', relativeGap: Infinity });
    expect(judgeChallenger(5, null, 0.02)).toEqual({
      relativeGap: null,
      outcome: 'no-champion',
      passed: true,
    });
    expect(TIE_RULE).toMatch(/tie promotes the challenger/);
  });

  it('rejects a margin that is not a number ≥ 0 when the run is planned', async () => {
    await expect(plan({ quality_margin: 'lots' })).rejects.toThrow(/quality_margin/);
  });
});

describe('training ids', () => {
  it('are unique per run, step and attempt and make valid instance names', () => {
    const ids = (workflowId: string, attempt: number) =>
      trainingIds({ workflowId, attempt, step: { id: 'real_visits.train' } as never });
    const first = ids('visits-scaling/2026-Q3', 1);
    expect(first.trainingId).toMatch(/^real-visits-train-[0-9a-f]{8}-1$/);
    expect(ids('visits-scaling/2026-Q3', 2).trainingId).not.toBe(first.trainingId);
    expect(ids('visits-scaling/2026-Q4', 1).trainingId).not.toBe(first.trainingId);
    expect(() => assertVmName(first.vmName)).not.toThrow();
  });
});

describe('what cleanup deletes', () => {
  const steps: Pick<StepStatus, 'outputs' | 'info'>[] = [
    { outputs: { table: 'smc_v.a_1' }, info: { createdTables: ['smc_v.a_1', 'smc_v.a_1_tmp'] } },
    { outputs: { table: 'smc_v.b_2' } }, // cached: created nothing
    { outputs: {}, info: { createdTables: ['visits_production.x__stage_p'] } },
  ];
  it('keeps step outputs by default and deletes the rest the run created in scratch datasets', () => {
    expect(tablesToDelete(steps, 'smc_', false)).toEqual(['smc_v.a_1_tmp']);
  });
  it('with delete_outputs, deletes every scratch table the run created, never a production one', () => {
    expect(tablesToDelete(steps, 'smc_', true)).toEqual(['smc_v.a_1', 'smc_v.a_1_tmp']);
  });
});

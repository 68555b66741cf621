import type { BigQuery } from '@google-cloud/bigquery';
import { ApplicationFailure } from '@temporalio/common';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KindDeps } from '../../activities/kinds/common';
import type { PlannedStep } from '../../pipelines/core/types';
import { gapfillKind } from '../../pipelines/visits-scaling/kinds/gapfill';
import { testTempDir } from '../harness/paths';

/** A warehouse client that records every call and answers none: the gap fill must not reach it. */
function untouchedWarehouse(calls: string[]): BigQuery {
  return new Proxy({ projectId: 'retrainer-local' } as unknown as BigQuery, {
    get: (target, key) =>
      key in target
        ? (target as unknown as Record<PropertyKey, unknown>)[key]
        : (...args: unknown[]) => {
            calls.push(`${String(key)} ${JSON.stringify(args).slice(0, 200)}`);
            throw new Error(`the warehouse was called: ${String(key)}`);
          },
  });
}

const spec = {
  promotion: 'visits_scaling_promote_record_0123abcd',
  target: 'visits_production.poi_visits_scaled',
  cutoff: '2026-09-30',
  until: '2026-12-31',
  sources: {
    pois: 'visits_source.pois',
    visits: 'visits_source.poi_visits_daily',
    clusters: 'visits_source.clusters_daily',
  },
  models: Object.fromEntries(
    ['visits_share', 'quality', 'trend', 'real_visits'].map((model) => [
      model,
      { artifact: `visits_scaling_${model}_train_model_0123abcd`, script: `models/${model}/train.py` },
    ]),
  ),
  trend: { origin: '2024-01-01', holdout_days: 28 },
  sql: Object.fromEntries(
    ['visits_share', 'quality', 'trend', 'real_visits', 'write'].map((name) => [
      name,
      `pipelines/visits-scaling/sql/${name}.sql`,
    ]),
  ),
  code: 'models',
};

// The audit: the gap fill built a table name into SQL without the identifier check. Every table it
// names is now checked before it does anything, so a hostile name never reaches the warehouse.
describe('gap fill: table names are identifiers, checked before anything runs', () => {
  const dir = testTempDir('gapfill-identifiers');
  mkdirSync(dir, { recursive: true });

  const attempt = async (field: string, value: string, legacy = false) => {
    const calls: string[] = [];
    const deps: KindDeps = {
      bigquery: untouchedWarehouse(calls),
      config: { BIGQUERY_PROJECT: 'retrainer-local', BIGQUERY_LOCATION: 'US' } as KindDeps['config'],
      registryDir: join(dir, 'registry'),
      workDir: join(dir, 'work'),
    };
    const base = legacy
      ? {
          promotion: spec.promotion,
          predictions: 'smc_visits_scaling.real_visits_predict_0123abcd',
          target: spec.target,
          sql: 'pipelines/visits-scaling/sql/poi_visits_scaled_gapfill.sql',
          version_of: 'real_visits',
          cutoff: spec.cutoff,
        }
      : structuredClone(spec);
    const [head, tail] = field.split('.');
    if (tail) (base as unknown as Record<string, Record<string, string>>)[head!]![tail] = value;
    else (base as Record<string, unknown>)[head!] = value;
    // As the plan hands it over: the kind's schema takes any non-empty name here.
    const parsed = gapfillKind.spec.parse(base);
    const execution = {
      workflowId: 'visits-scaling/hostile',
      pipeline: 'visits-scaling',
      step: { id: 'gapfill', spec: parsed, cacheKey: '0'.repeat(64) } as unknown as PlannedStep & {
        spec: typeof parsed;
      },
      outputs: { record: 'visits_scaling_gapfill_record_0123abcd' },
      inputs: {},
      attempt: 1,
    };
    const handler = gapfillKind.handler!(deps);
    const context = { signal: new AbortController().signal, heartbeat: () => undefined };
    const ran = await handler.run(execution as never, context).catch((error: unknown) => error);
    const checked = await handler.outputsExist!(execution as never).catch((error: unknown) => error);
    return { ran, checked, calls };
  };

  it('refuses a hostile target or source name, naming the field, without a warehouse call', async () => {
    const hostile = [
      'visits_production.poi_visits_scaled` WHERE TRUE; DROP TABLE visits_production.models; --',
      "visits_production.x'; --",
      'evil_project!.visits.t',
      'visits_production.poi visits',
    ];
    const fields = ['target', 'sources.pois', 'sources.visits', 'sources.clusters'];
    for (const field of fields) {
      for (const value of hostile) {
        const { ran, checked, calls } = await attempt(field, value);
        for (const error of [ran, checked]) {
          expect(error, `${field} = ${value}`).toBeInstanceOf(ApplicationFailure);
          expect((error as ApplicationFailure).nonRetryable).toBe(true);
          expect((error as ApplicationFailure).message).toMatch(
            new RegExp(`^step gapfill: spec\\.${field.replace('.', '\\.')}: .*(invalid|not dataset\\.table)`),
          );
        }
        expect(calls, `${field} = ${value}`).toEqual([]);
      }
    }
    // The runs planned before version 3 (a MERGE of the run's predictions) are checked the same way.
    for (const field of ['target', 'predictions']) {
      const { ran, calls } = await attempt(field, hostile[0]!, true);
      expect((ran as ApplicationFailure).message).toMatch(new RegExp(`^step gapfill: spec\\.${field}: `));
      expect(calls).toEqual([]);
    }
  });

  it('lets valid names through to the fill (nothing promoted: nothing filled, still no warehouse call)', async () => {
    const { ran, checked, calls } = await attempt('target', 'visits_production.poi_visits_scaled');
    expect(ran).toMatchObject({ info: { filled: false } });
    expect(checked).toBe(false);
    expect(calls).toEqual([]);
  });
});

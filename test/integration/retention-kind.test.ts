import { ApplicationFailure } from '@temporalio/common';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import type { KindDeps } from '../../activities/kinds/common';
import { parseStepSpec } from '../../activities/kinds/kind';
import type { StepExecution, StepHandlerContext, StepResult } from '../../activities/steps';
import { retentionKind, retentionSpec } from '../../pipelines/ingest-train-evaluate-deploy/kinds/retention';
import { RunnerErrorType } from '../../workflows/definitions';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';

const context = { signal: new AbortController().signal, heartbeat: () => undefined };
const DATASET = 'smc_ingest_train_evaluate_deploy';
const key = (i: number) => `${i}`.padStart(8, '0');

describe('the retention kind: forced reruns leave at most `keep` outputs per step', () => {
  let bq: BigQueryHarness;
  // As executeStep runs it: the spec parsed by the kind's schema, then the handler.
  let retention: { run: (e: StepExecution, c: StepHandlerContext) => Promise<StepResult | void> };
  let registryDir: string;

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    registryDir = join(testTempDir('retention'), 'registry');
    const deps: KindDeps = { bigquery: bq.bigquery, config: bq.config, registryDir, workDir: registryDir };
    const handler = retentionKind.handler!(deps);
    retention = { run: async (e, c) => await handler.run(parseStepSpec(retentionSpec, e), c) };
  });
  afterAll(async () => {
    await bq?.stop();
  });

  const execution = (spec: StepExecution['step']['spec']): StepExecution => ({
    workflowId: 'ingest-train-evaluate-deploy/forced-5',
    pipeline: 'ingest-train-evaluate-deploy',
    step: { id: 'retention', kind: 'retention', spec, version: '1', cacheKey: 'f'.repeat(64) },
    outputs: {},
    inputs: {},
    attempt: 1,
  });

  /** A model artifact of forced rerun `i` (older for smaller i), with its training folder. */
  function model(i: number): string {
    const name = `${DATASET}.train_model_${key(i)}`;
    const dir = join(registryDir, 'artifacts', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), '{}');
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ trainingId: `train-run${i}-1` }));
    mkdirSync(join(registryDir, 'training', `train-run${i}-1`), { recursive: true });
    const time = new Date(Date.UTC(2026, 0, 1 + i));
    utimesSync(dir, time, time);
    return name;
  }

  it('keeps the current output and the newest others, deletes the rest with their training folders', async () => {
    const names = [1, 2, 3, 4, 5].map(model);
    // Another step's family and a non-scratch folder are never touched.
    mkdirSync(join(registryDir, 'artifacts', `${DATASET}.evaluate_decision_${key(1)}`), { recursive: true });
    const tables = createBigQueryActivities(bq.bigquery, bq.config);
    await bq.bigquery.dataset(DATASET).get({ autoCreate: true });
    for (const i of [1, 2, 3, 4]) {
      await tables.queryToTable({
        sql: `SELECT ${i} AS run`,
        destination: { dataset: DATASET, table: `ingest_${key(i)}` },
        labels: { run_id: 'test', pipeline: 'test', step: 'ingest' },
      });
    }
    // The current run reused the oldest ingest table (cached) and trained model 3 (a rerun from train).
    const result = await retention.run(
      execution({ keep: 2, artifacts: [names[2] as string], tables: [`${DATASET}.ingest_${key(1)}`] }),
      context,
    );
    const exists = (name: string) => existsSync(join(registryDir, 'artifacts', name));
    expect(names.map(exists)).toEqual([false, false, true, false, true]);
    expect([1, 2, 3, 4, 5].map((i) => existsSync(join(registryDir, 'training', `train-run${i}-1`)))).toEqual([
      false,
      false,
      true,
      false,
      true,
    ]);
    expect(exists(`${DATASET}.evaluate_decision_${key(1)}`)).toBe(true);
    const [left] = await bq.bigquery.dataset(DATASET).getTables();
    expect(left.map((t) => t.id).sort()).toHaveLength(2);
    expect(left.map((t) => t.id)).toContain(`ingest_${key(1)}`);
    expect(left.map((t) => t.id)).toContain(`ingest_${key(4)}`);
    expect(result?.info?.deleted).toMatchObject({
      [`${DATASET}.train_model_`]: [names[3], names[1], names[0]],
    });
  });

  it('rejects a spec without a sensible keep or with names that are not step outputs', async () => {
    const specs: StepExecution['step']['spec'][] = [
      { keep: 0, artifacts: [] },
      { keep: 2, artifacts: ['../../etc'] },
      { keep: 2, tables: ['--drop'] },
    ];
    for (const spec of specs) {
      const error = await retention.run(execution(spec), context).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).type).toBe(RunnerErrorType.InvalidStepSpec);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
    }
  });
});

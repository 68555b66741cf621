import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelValue } from '../../activities/bigquery/identifiers';
import { projectRoot } from '../../activities/providers/paths';
import { addDays, createPipelineRegistry } from '../../pipelines';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import { prepareVisitsScalingWarehouse } from '../../pipelines/visits-scaling/synthetic/warehouse';
import { createActivities, workflowsPath } from '../../workers/worker';
import { runPipeline } from '../../workflows/run-pipeline';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';
import { testTempDir } from '../harness/paths';
import { createDevServerEnv } from '../harness/temporal';

/**
 * visits-scaling's plan with only its warehouse part: `prepare` and every `sql` step whose upstream
 * steps are all kept (data, labels, features, holdouts of visits share, quality and trend), with the
 * real SQL files at a pinned commit. No trainings: what two backfills share or not is decided here.
 */
function sqlPartOf(definition: PipelineDefinition): PipelineDefinition {
  const kept = new Set<string>();
  for (const step of definition.steps) {
    if ((step.kind === 'prepare' || step.kind === 'sql') && step.after.every((id) => kept.has(id)))
      kept.add(step.id);
  }
  return { ...definition, steps: definition.steps.filter((step) => kept.has(step.id)) };
}

interface JobMetadata {
  configuration?: { query?: { query?: string }; labels?: Record<string, string> };
  statistics?: { creationTime?: string; endTime?: string };
}

/** `smc_…` tables a query names (reads and writes), without the project. */
const scratchTables = (sql: string): string[] =>
  [...sql.matchAll(/`?(?:[a-z][a-z0-9-]*\.)?(smc_[a-z0-9_]+\.[a-z0-9_]+)`?/gi)].map((m) => m[1] as string);

describe('two backfills of different quarters at the same time (dev server, BigQuery emulator)', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  let worker: Worker;
  let cutoffs: [string, string];
  const pipeline = sqlPartOf(visitsScalingPipeline);
  let params: Record<string, string>;

  beforeAll(async () => {
    [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    const dir = testTempDir('backfills');
    Object.assign(process.env, { DATA_DIR: dir, REGISTRY_DIR: join(dir, 'registry') });
    const warehouse = await prepareVisitsScalingWarehouse({
      bigquery: bq.bigquery,
      config: bq.config,
      registryDir: join(dir, 'registry'),
      dir,
      synthetic: { seed: 3, metAreas: [0, 11], poisPerArea: 2, days: 200, panelFraction: 0.5 },
    });
    cutoffs = [addDays(warehouse.cutoff, -91), warehouse.cutoff];
    const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    params = { models_repo: projectRoot, models_ref: commit };
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `backfills-${randomUUID()}`,
      workflowsPath: workflowsPath(),
      activities: createActivities({ bigquery: bq.bigquery, pipelines: createPipelineRegistry([pipeline]) }),
    });
  });
  afterAll(async () => {
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  it('never read or write the same scratch table (jobs and tables of the emulator)', async () => {
    expect(pipeline.steps.map((step) => step.id)).toEqual([
      'prepare',
      'visits_share.data',
      'visits_share.holdout',
      'quality.labels',
      'quality.features',
      'quality.data',
      'quality.holdout',
      'trend.data',
      'trend.holdout',
      'trend.features',
    ]);
    const runs = cutoffs.map((cutoff) => `visits-scaling/backfill-${cutoff}-${randomUUID().slice(0, 6)}`);
    const results = await worker.runUntil(
      Promise.all(
        runs.map((workflowId, i) =>
          env.client.workflow.execute(runPipeline, {
            args: [{ pipeline: 'visits-scaling', cutoff: cutoffs[i], params }],
            workflowId,
            taskQueue: worker.options.taskQueue,
          }),
        ),
      ),
    );
    for (const result of results) {
      expect(Object.values(result.steps).map((step) => step.state)).toEqual(
        pipeline.steps.map(() => 'succeeded'),
      );
    }
    // Who owns each scratch table: the run label the sql kind sets on the table it creates (the
    // emulator keeps table labels, not job labels).
    const [tables] = await bq.bigquery.dataset('smc_visits_scaling').getTables();
    const owner = new Map<string, string>();
    for (const table of tables) {
      const [metadata] = await table.getMetadata();
      owner.set(`smc_visits_scaling.${table.id}`, (metadata.labels as Record<string, string>)?.run_id ?? '');
    }
    const labels = runs.map(labelValue);
    // Every query job of the emulator (creates and the row counts after them) and the scratch
    // tables it reads or writes: no job touches tables of two runs, or a table no run owns.
    const [listed] = await bq.bigquery.getJobs({ maxResults: 1000, autoPaginate: true });
    const jobs = listed
      .map((job) => job.metadata as JobMetadata)
      .map((job) => ({ job, tables: scratchTables(job.configuration?.query?.query ?? '') }))
      .filter(({ tables }) => tables.length > 0);
    const jobsOf: JobMetadata[][] = [[], []];
    const touched = [new Set<string>(), new Set<string>()];
    for (const { job, tables } of jobs) {
      const owners = [...new Set(tables.map((table) => owner.get(table) ?? `none (${table})`))];
      expect(owners).toHaveLength(1);
      const run = labels.indexOf(owners[0] as string);
      expect(run, `owner ${owners[0]} is one of the two runs`).toBeGreaterThanOrEqual(0);
      jobsOf[run]?.push(job);
      for (const table of tables) touched[run]?.add(table);
    }
    // Each run created and read exactly its own tables, one per SQL step: none was shared, none
    // written over by the other run (a shared name would leave one run with fewer tables).
    const sqlSteps = pipeline.steps.filter((step) => step.kind === 'sql').length;
    expect(touched.map((set) => set.size)).toEqual([sqlSteps, sqlSteps]);
    expect([...(touched[0] as Set<string>)].filter((table) => touched[1]?.has(table))).toEqual([]);
    // The two runs really ran at the same time: each one's first query started before the other's
    // last one ended.
    const span = (mine: JobMetadata[]) => ({
      first: Math.min(...mine.map((job) => Number(job.statistics?.creationTime))),
      last: Math.max(...mine.map((job) => Number(job.statistics?.endTime))),
    });
    const [a, b] = jobsOf.map(span) as [ReturnType<typeof span>, ReturnType<typeof span>];
    expect(a.first).toBeLessThan(b.last);
    expect(b.first).toBeLessThan(a.last);
  });
});

import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BigQueryErrorType,
  createBigQueryActivities,
  type BigQueryActivities,
} from '../../activities/bigquery';
import { sqlKind, sqlSpec, type SqlSpec } from '../../activities/bigquery/steps';
import type { KindDeps } from '../../activities/kinds/common';
import { parseStepSpec } from '../../activities/kinds/kind';
import type { StepExecution, StepHandlerContext, StepKindHandler } from '../../activities/steps';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';

const context = { signal: new AbortController().signal, heartbeat: () => undefined };

describe('the sql step kind on the emulator', () => {
  let bq: BigQueryHarness;
  let handler: StepKindHandler<SqlSpec>;
  // As executeStep does: the spec parsed by the kind's schema first.
  const sql = {
    run: (e: StepExecution, c: StepHandlerContext) => handler.run(parseStepSpec(sqlSpec, e), c),
    outputsExist: (e: StepExecution) => handler.outputsExist?.(parseStepSpec(sqlSpec, e)),
  };
  let activities: BigQueryActivities;

  const execution = (
    overrides: Partial<StepExecution['step']>,
    outputs: Record<string, string>,
    inputs = {},
  ): StepExecution => ({
    workflowId: 'visits-scaling/2026-09-30',
    pipeline: 'visits-scaling',
    step: {
      id: 'quality.labels',
      kind: 'sql',
      spec: {},
      version: '1',
      cacheKey: 'abcdef0123456789',
      ...overrides,
    },
    outputs,
    inputs,
    attempt: 1,
  });

  beforeAll(async () => {
    bq = await startBigQueryHarness();
    handler = sqlKind.handler!({ bigquery: bq.bigquery, config: bq.config } as KindDeps);
    activities = createBigQueryActivities(bq.bigquery, bq.config);
    await bq.bigquery.createDataset('visits_source');
    const labels = { run_id: 'seed', pipeline: 'seed', step: 'seed' };
    const write = (table: string, query: string) =>
      activities.queryToTable({ sql: query, destination: { dataset: 'visits_source', table }, labels });
    await write('pois', 'SELECT 1 AS poi_id, 0 AS met_area, CAST(NULL AS DATE) AS closed_on');
    await write(
      'clusters_daily',
      'SELECT 0 AS met_area, day, 10 AS clusters FROM UNNEST(GENERATE_DATE_ARRAY(DATE "2026-03-01", DATE "2026-03-20")) AS day',
    );
    await write(
      'poi_visits_daily',
      'SELECT day, 1 AS poi_id, 0 AS met_area, FALSE AS near_home, FALSE AS near_work, 5 AS visits FROM UNNEST(GENERATE_DATE_ARRAY(DATE "2026-03-01", DATE "2026-03-20")) AS day',
    );
  });
  afterAll(async () => {
    await bq?.stop();
  });

  const labelsStep = execution(
    {
      spec: {
        sql: 'pipelines/visits-scaling/sql/quality_labels.sql',
        tables: {
          pois: 'visits_source.pois',
          visits: 'visits_source.poi_visits_daily',
          clusters: 'visits_source.clusters_daily',
        },
        params: { cutoff: '2026-03-10' },
      },
    },
    { table: 'smc_visits_scaling.quality_labels_abcdef01' },
  );

  it('writes a SQL file into the planned output table, with @cutoff from its spec, labelled with the run', async () => {
    expect(await sql.outputsExist?.(labelsStep)).toBe(false);
    const result = await sql.run(labelsStep, context);
    expect(result?.info).toMatchObject({ rows: 10, table: 'smc_visits_scaling.quality_labels_abcdef01' });
    const described = await activities.describeTable({
      table: { dataset: 'smc_visits_scaling', table: 'quality_labels_abcdef01' },
    });
    expect(described.labels).toEqual({
      run_id: 'visits-scaling_2026-09-30',
      pipeline: 'visits-scaling',
      step: 'quality_labels',
    });
    expect(await sql.outputsExist?.(labelsStep)).toBe(true);
  });

  it('reads upstream step outputs named in the spec', async () => {
    await sql.run(labelsStep, context);
    const featuresStep = execution(
      {
        id: 'quality.features',
        spec: {
          sql: 'pipelines/visits-scaling/sql/quality_features.sql',
          tables: {
            pois: 'visits_source.pois',
            visits: 'visits_source.poi_visits_daily',
            clusters: 'visits_source.clusters_daily',
          },
          params: { from: '2026-03-01', to: '2026-03-20' },
        },
      },
      { table: 'smc_visits_scaling.quality_features_12345678' },
    );
    expect((await sql.run(featuresStep, context))?.info).toMatchObject({ rows: 20 });
    const dataStep = execution(
      {
        id: 'quality.data',
        spec: {
          sql: 'pipelines/visits-scaling/sql/quality_data.sql',
          tables: {
            labels: { step: 'quality.labels' },
            features: { step: 'quality.features', output: 'table' },
          },
        },
      },
      { table: 'smc_visits_scaling.quality_data_12345678' },
      { 'quality.labels': labelsStep.outputs, 'quality.features': featuresStep.outputs },
    );
    expect((await sql.run(dataStep, context))?.info).toMatchObject({ rows: 10 });
  });

  it('fails with the missing table named when an input table is gone', async () => {
    const broken = execution(
      {
        spec: {
          sql: 'pipelines/visits-scaling/sql/quality_labels.sql',
          tables: {
            pois: 'visits_source.pois',
            visits: 'visits_source.gone',
            clusters: 'visits_source.clusters_daily',
          },
          params: { cutoff: '2026-03-10' },
        },
      },
      { table: 'smc_visits_scaling.quality_labels_00000000' },
    );
    const error = await sql.run(broken, context).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.TABLE_NOT_FOUND);
    expect((error as ApplicationFailure).message).toContain('visits_source.gone');
  });

  it('refuses a spec whose table refers to a step it does not run after', async () => {
    const orphan = execution(
      {
        spec: {
          sql: 'pipelines/visits-scaling/sql/quality_data.sql',
          tables: { labels: { step: 'quality.labels' } },
        },
      },
      { table: 'smc_visits_scaling.x_00000000' },
    );
    const error = await sql.run(orphan, context).catch((caught: unknown) => caught);
    expect((error as ApplicationFailure).type).toBe(BigQueryErrorType.INVALID_REQUEST);
    expect((error as ApplicationFailure).message).toContain('quality.labels.table');
  });
});

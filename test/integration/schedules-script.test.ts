import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createPlanActivities } from '../../activities/plan';
import { projectRoot } from '../../activities/providers/paths';
import { runPolicyFromConfig } from '../../activities/run-policy';
import { loadConfig } from '../../config';
import { pipelines } from '../../pipelines/catalog';
import { stepKinds } from '../../workers/kinds';
import { workflowsPath } from '../../workers/worker';
import { createDevServerEnv } from '../harness/temporal';

const run = promisify(execFile);

describe('npm run schedules: the quarterly visits-scaling schedule from the command line', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const taskQueue = `schedules-${randomUUID()}`;
  beforeAll(async () => {
    env = await createDevServerEnv();
    // Schedules are planned by the worker (planPipeline) when created: a worker with the plan activity.
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: workflowsPath(),
      activities: createPlanActivities({
        pipelines,
        kinds: stepKinds,
        policy: runPolicyFromConfig(loadConfig({})),
      }),
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await env?.teardown();
  });

  const schedules = async (...args: string[]) => {
    const { stdout } = await run(
      process.execPath,
      ['-r', '@swc-node/register', join(projectRoot, 'scripts', 'schedules.ts'), ...args],
      {
        cwd: projectRoot,
        env: { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue },
      },
    );
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it('creates the quarterly schedule and backfills past quarters, one run per nominal time', async () => {
    const created = await schedules('quarterly', '--paused');
    expect(created).toMatchObject({
      id: 'visits-scaling-quarterly',
      pipeline: 'visits-scaling',
      cron: ['0 6 1 1,4,7,10 *'],
      paused: true,
      overlap: 'BUFFER_ONE',
    });
    expect((created.nextRuns as string[]).every((time) => /-(01|04|07|10)-01T06:00:00/.test(time))).toBe(
      true,
    );

    await schedules('backfill', 'visits-scaling-quarterly', '2026-01-01', '2026-07-02');
    const expected = ['2026-01-01', '2026-04-01', '2026-07-01'].map(
      (day) => `visits-scaling/visits-scaling-quarterly-${day}T06:00:00Z`,
    );
    let ids: string[] = [];
    for (let attempt = 0; attempt < 100 && ids.length < expected.length; attempt++) {
      ids = [];
      for await (const execution of env.client.workflow.list({
        query: `TemporalScheduledById = 'visits-scaling-quarterly'`,
      })) {
        ids.push(execution.workflowId);
      }
    }
    expect(ids.sort()).toEqual(expected);

    await expect(schedules('backfill', 'visits-scaling-quarterly', 'soon', '2026-07-02')).rejects.toThrow(
      /START must be a date/,
    );
    expect(await schedules('delete', 'visits-scaling-quarterly')).toEqual({
      deleted: 'visits-scaling-quarterly',
    });
    await expect(schedules('show', 'visits-scaling-quarterly')).rejects.toThrow(
      /unknown schedule visits-scaling-quarterly/,
    );
  });

  it('creates a pipeline’s usual schedule by its name, paused', async () => {
    const created = await schedules('ingest-train-evaluate-deploy', '--paused');
    expect(created).toMatchObject({
      id: 'ingest-train-evaluate-deploy-daily',
      pipeline: 'ingest-train-evaluate-deploy',
      cron: ['0 5 * * *'],
      paused: true,
    });
    expect((created.nextRuns as string[]).every((time) => time.endsWith('T05:00:00.000Z'))).toBe(true);
    await expect(schedules('no-such-pipeline')).rejects.toThrow(
      /usage: schedules .*\|ingest-train-evaluate-deploy\|/,
    );
  });
});

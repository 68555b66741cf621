import { WorkflowFailedError } from '@temporalio/client';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '../../pipelines/core';
import {
  retryStepSignal,
  statusQuery,
  type RunPipelineInput,
  type RunStatus,
} from '../../workflows/definitions';
import {
  createVisitsScalingWorker,
  startRun,
  stepOf,
  trainingsStarted,
  waitForStep,
} from './visits-scaling-fixtures';
import { useVisitsScalingSuite } from './visits-scaling-suite';

const MODELS = ['visits_share', 'quality', 'trend', 'real_visits'];
const TRAININGS = MODELS.map((m) => `${m}.train`).sort();

/**
 * Issue 12's acceptance on the local stack (dev server, BigQuery emulator, sshd + tmux VMs): runs over
 * two quarters retrain everything and share no scratch table (issue 9's "real runs" too), two runs at
 * once take turns on the persistent instance, a failed run leaves no scratch table of its own, and an
 * operator's retry of a training resumes from its checkpoint. One stack for the file; small data and
 * trainings of 40 steps.
 */
describe('visits-scaling across quarters on the local stack', () => {
  // 200 days: enough history before the earlier quarter's cutoff for every model's data.
  const suite = useVisitsScalingSuite({ days: 200 });
  /** The two quarters' cutoffs: the stack's (14 days before the data's end) and 91 days earlier. */
  let quarters: [string, string];

  beforeAll(() => {
    quarters = [addDays(suite.stack.warehouse.cutoff, -91), suite.stack.warehouse.cutoff];
  });

  type Input = Omit<RunPipelineInput, 'pipeline' | 'params'> & { params?: RunPipelineInput['params'] };
  /** Runs to the end (succeeded or failed) on a fresh worker; `during` may act on the running run. */
  const runOn = async (
    inputs: Input[],
    during: (workflowIds: string[]) => Promise<void> = async () => undefined,
  ) => {
    const worker = await createVisitsScalingWorker(suite);
    return await worker.runUntil(async () => {
      const handles = await Promise.all(
        inputs.map((input) =>
          startRun(suite.env, worker, {
            cutoff: suite.stack.warehouse.cutoff,
            ...input,
            params: { ...suite.stack.params, ...input.params },
          }),
        ),
      );
      await during(handles.map((h) => h.workflowId));
      return await Promise.all(
        handles.map(async (handle) => {
          const failure = await handle.result().then(
            () => undefined,
            (error: unknown) => error,
          );
          return {
            workflowId: handle.workflowId,
            failure,
            status: await handle.query(statusQuery),
            trainings: await trainingsStarted(suite.env, handle.workflowId),
          };
        }),
      );
    });
  };
  const trainedSteps = (trainings: string[]) => trainings.map((id) => id.split('/').at(-2)).sort();
  /** Every table name a run's steps name: their outputs and what they report having created. */
  const tablesOf = (status: RunStatus) =>
    new Set(
      status.steps.flatMap((s) => [
        // Tables and artifact folders are `dataset.name`; `promoted: 'true'` and the like are not.
        ...(s.id === 'prepare' ? [] : Object.values(s.outputs).filter((value) => value.includes('.'))),
        ...((s.info?.createdTables as string[] | undefined) ?? []),
      ]),
    );
  /** Every table in every dataset of the emulator, with its `run_id` label. */
  const allTables = async () => {
    const [datasets] = await suite.bq.bigquery.getDatasets();
    const tables = await Promise.all(
      datasets.map(async (dataset) => {
        const [list] = await dataset.getTables();
        return await Promise.all(
          list.map(async (table) => {
            const [meta] = await table.getMetadata();
            return {
              name: `${dataset.id}.${table.id}`,
              runId: (meta.labels ?? {}).run_id as string | undefined,
            };
          }),
        );
      }),
    );
    return tables.flat();
  };
  const labelOf = (workflowId: string) => workflowId.toLowerCase().replaceAll('/', '_');

  it('two quarters both retrain every model and share no scratch table; the same quarter again is all cached', async () => {
    const [first, second] = [
      (await runOn([{ cutoff: quarters[0] }]))[0]!,
      (await runOn([{ cutoff: quarters[1] }]))[0]!,
    ];
    for (const run of [first, second]) {
      expect(run.failure).toBeUndefined();
      expect(trainedSteps(run.trainings)).toEqual(TRAININGS);
      for (const model of MODELS) expect(stepOf(run.status, `${model}.train`).state).toBe('succeeded');
    }
    // Different models: versions named by cutoff and key, and different model files.
    for (const model of MODELS) {
      const [a, b] = [first, second].map((run) => stepOf(run.status, `${model}.train`));
      const versions = [a, b].map((s) => (s!.info as { version: string }).version);
      expect(versions[0]).toMatch(new RegExp(`^${quarters[0]}-`));
      expect(versions[1]).toMatch(new RegExp(`^${quarters[1]}-`));
      const files = [a, b].map((s) =>
        readFileSync(join(suite.stack.registryDir, 'artifacts', s!.outputs.model!, 'model.json'), 'utf8'),
      );
      expect(files[0]).not.toEqual(files[1]);
    }
    // No scratch table in common: neither output nor anything either run created.
    const [tablesA, tablesB] = [tablesOf(first.status), tablesOf(second.status)];
    expect(tablesA.size).toBeGreaterThan(10);
    expect([...tablesA].filter((name) => tablesB.has(name))).toEqual([]);

    const [again] = await runOn([{ cutoff: quarters[1] }]);
    expect(again!.failure).toBeUndefined();
    expect(again!.trainings).toEqual([]);
    expect(Object.fromEntries(again!.status.steps.map((s) => [s.id, s.state]))).toEqual({
      ...Object.fromEntries(again!.status.steps.map((s) => [s.id, 'cached'])),
      // cleanup has no output: it always runs, and finds nothing of this run to delete.
      cleanup: 'succeeded',
    });
  }, 600_000);

  it('two runs started together never train on the persistent instance at once, and both finish', async () => {
    const runsDir = join(suite.stack.provider.instanceDir('quality-notebook'), 'home', 'runs');
    const before = existsSync(runsDir) ? readdirSync(runsDir) : [];
    const runs = await runOn([
      { cutoff: addDays(suite.stack.warehouse.cutoff, -1) },
      // Different keys, so nothing is shared but the instance; 5 steps trains a model too weak to be
      // promoted, so the two runs never race to move the production aliases.
      { cutoff: addDays(suite.stack.warehouse.cutoff, -2), params: { train_steps: 5 } },
    ]);
    for (const run of runs) {
      expect([run.workflowId, run.failure]).toEqual([run.workflowId, undefined]);
      expect(run.status.state).toBe('succeeded');
      expect(trainedSteps(run.trainings)).toEqual(TRAININGS);
    }
    // Each training on the instance, as its wrapper recorded it there: [started_at, ended_at].
    const intervals = readdirSync(runsDir)
      .filter((id) => !before.includes(id))
      .map((id) => {
        const read = (file: string) => Number(readFileSync(join(runsDir, id, file), 'utf8').trim());
        return { id, start: read('started_at'), end: read('ended_at') };
      })
      .sort((a, b) => a.start - b.start);
    // One quality training per run (more if one was retried from its checkpoint).
    expect(intervals.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < intervals.length; i++) {
      expect(
        intervals[i]!.start,
        `${intervals[i]!.id} starts after ${intervals[i - 1]!.id} ended`,
      ).toBeGreaterThanOrEqual(intervals[i - 1]!.end);
    }
  }, 600_000);

  it('a failed run leaves no scratch table of its own', async () => {
    // A source whose clusters table lacks its `clusters` column: the queries reading it fail (not
    // retried) while the visits-share branch has created its tables.
    await suite.bq.bigquery.createDataset('visits_broken');
    for (const table of ['pois', 'poi_visits_daily', 'real_visits_panel']) {
      await suite.warehouse.runStatement({
        sql: `CREATE OR REPLACE TABLE \`visits_broken.${table}\` AS SELECT * FROM \`visits_source.${table}\``,
      });
    }
    await suite.warehouse.runStatement({
      sql: 'CREATE OR REPLACE TABLE `visits_broken.clusters_daily` AS SELECT day, met_area FROM `visits_source.clusters_daily`',
    });
    const [run] = await runOn([
      {
        cutoff: addDays(suite.stack.warehouse.cutoff, -3),
        params: { source_dataset: 'visits_broken', cleanup_outputs: true },
      },
    ]);
    expect(run!.failure).toBeInstanceOf(WorkflowFailedError);
    expect(run!.status.state).toBe('failed');
    expect(stepOf(run!.status, 'cleanup').state).toBe('succeeded');
    const created = run!.status.steps.flatMap((s) => (s.info?.createdTables as string[] | undefined) ?? []);
    expect(created.length).toBeGreaterThan(0);
    const left = await allTables();
    expect(left.filter((t) => t.runId === labelOf(run!.workflowId))).toEqual([]);
    const names = new Set(left.map((t) => t.name.split('.').slice(-2).join('.')));
    expect(created.filter((name) => names.has(name.split('.').slice(-2).join('.')))).toEqual([]);
  }, 300_000);

  it("an operator's retry of a failed training resumes from its latest checkpoint", async () => {
    const [run] = await runOn(
      [
        {
          cutoff: addDays(suite.stack.warehouse.cutoff, -4),
          // The trend program exits at step 30 after a checkpoint; no automatic retry: an operator decides.
          params: { trend_fail_at_step: 30, train_retries: 0 },
        },
      ],
      async ([workflowId]) => {
        const waiting = await waitForStep(suite.env, workflowId!, 'trend.train', 'awaiting-decision');
        expect(stepOf(waiting, 'trend.train').error).toMatch(/training exited with code 3/);
        await suite.env.client.workflow
          .getHandle(workflowId!)
          .signal(retryStepSignal, { step: 'trend.train' });
      },
    );
    expect(run!.failure).toBeUndefined();
    const trend = stepOf(run!.status, 'trend.train');
    expect(trend.state).toBe('succeeded');
    expect(run!.trainings.filter((id) => id.includes('/trend.train/'))).toHaveLength(2);
    // The program of the second attempt found the checkpoint of the first and went on from it.
    const log = readFileSync(
      join(suite.stack.registryDir, 'artifacts', trend.outputs.model!, 'train.log'),
      'utf8',
    );
    expect(log).toMatch(/resumed from \S+ at step 30/);
    expect(log).not.toMatch(/^\S+ training trend on/m);
  }, 300_000);
});

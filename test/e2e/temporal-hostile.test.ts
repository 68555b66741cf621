import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunnerErrorType } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createWorker } from '../../workers/worker';
import { useE2eStack } from '../harness/e2e-stack';

/**
 * The audit's command execution happened "in the worker on a real run" too: runs started on
 * Temporal directly (a client, `temporal workflow start`, a schedule), without the API's checks.
 * Here the production worker (every activity, the local VM provider, the BigQuery emulator) serves
 * runs started that way with each hostile parameter: each fails at its plan, non-retryable, naming
 * the field; no marker file, no VM, no dataset or table, no activity but one `planRun` attempt.
 */
describe('hostile parameters on runs started directly on Temporal, with the production worker', () => {
  const stack = useE2eStack('temporal-hostile');

  it('fails each run at its plan, naming the field, creating and running nothing', async () => {
    const marker = join(stack.dir, 'pwned');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ models_repo: `--upload-pack=touch ${marker};` }, /^parameter models_repo: /],
      [{ models_repo: `ext::sh -c touch% ${marker}` }, /^parameter models_repo: /],
      [{ models_ref: `--upload-pack=touch ${marker}` }, /^parameter models_ref: /],
      [{ models_repo: '.', models_ref: `-c core.sshCommand=touch ${marker}` }, /^parameter models_ref: /],
      [{ source_dataset: 'victim-project-1.secrets' }, /^parameter source_dataset: /],
      [{ production_dataset: 'visits`; DROP TABLE x; --' }, /^parameter production_dataset: /],
      [{ quality_instance: 'prod-database-1' }, /^parameter quality_instance: /],
      [{ quality_instance: '-oProxyCommand=touch x' }, /^parameter quality_instance: /],
      [
        { quality_notebook_train_machine_config: 'a3-megagpu-8g' },
        /^parameter quality_notebook_train_machine_config: /,
      ],
      [
        { quality_notebook_train_accelerator_config: 'nvidia-h100-80gb:8' },
        /^parameter quality_notebook_train_accelerator_config: /,
      ],
      [{ max_training_duration: '1000 hours' }, /RUN_COST_CEILING_USD .*max_training_duration/],
      // As JSON carries them (own keys after parsing), never inherited or prototype keys.
      [JSON.parse('{"__proto__": "x"}') as Record<string, unknown>, /unknown parameter __proto__/],
      [JSON.parse('{"constructor": "x"}') as Record<string, unknown>, /unknown parameter constructor/],
    ];
    const datasetsBefore = (await stack.bq.bigquery.getDatasets())[0].map((dataset) => dataset.id);
    const { worker } = await createWorker({
      config: stack.config,
      full: stack.config,
      bigquery: stack.bq.bigquery,
      connection: stack.env.nativeConnection,
    });
    const client = stack.env.client;
    const taskQueue = stack.config.TEMPORAL_TASK_QUEUE;

    const outcomes = await worker.runUntil(async () => {
      // A client's start, as `temporal workflow start` does it …
      const started = await Promise.all(
        cases.map(([params], index) =>
          client.workflow.start(runPipeline, {
            args: [{ pipeline: 'visits-scaling', params: params as never }],
            workflowId: `visits-scaling/hostile-${index}`,
            taskQueue,
          }),
        ),
      );
      // … and a schedule's (its action carries the parameters; it is triggered at once).
      const schedule = await client.schedule.create({
        scheduleId: 'hostile-schedule',
        spec: { cronExpressions: ['0 6 1 1 *'] },
        action: {
          type: 'startWorkflow',
          workflowType: runPipeline,
          args: [{ pipeline: 'visits-scaling', params: { models_ref: `--upload-pack=touch ${marker}` } }],
          workflowId: 'visits-scaling/hostile-scheduled',
          taskQueue,
        },
      });
      await schedule.trigger();
      let scheduledId: string | undefined;
      for (let i = 0; i < 120 && !scheduledId; i++) {
        const action = (await schedule.describe()).info.recentActions[0]?.action;
        scheduledId = action?.type === 'startWorkflow' ? action.workflow.workflowId : undefined;
        if (!scheduledId) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(scheduledId, 'the schedule started its run').toBeDefined();
      await schedule.delete();
      const handles = [...started, client.workflow.getHandle(scheduledId!)];
      return await Promise.all(
        handles.map(async (handle) => ({
          error: await handle.result().then(
            () => undefined,
            (e: unknown) => e,
          ),
          events: (await handle.fetchHistory()).events ?? [],
        })),
      );
    });

    const expected = [...cases.map(([, field]) => field), /^parameter models_ref: /];
    outcomes.forEach(({ error, events }, index) => {
      const label = JSON.stringify(index < cases.length ? cases[index]![0] : 'scheduled');
      expect(error, label).toBeInstanceOf(WorkflowFailedError);
      const activity = (error as WorkflowFailedError).cause;
      expect(activity, label).toBeInstanceOf(ActivityFailure);
      expect((activity as ActivityFailure).activityType).toBe('planRun');
      const failure = (activity as ActivityFailure).cause;
      expect(failure, label).toBeInstanceOf(ApplicationFailure);
      expect((failure as ApplicationFailure).nonRetryable, label).toBe(true);
      expect((failure as ApplicationFailure).type).toBe(RunnerErrorType.InvalidParameters);
      expect((failure as ApplicationFailure).message, label).toMatch(expected[index]!);
      // One plan attempt and nothing else: no step activity, no child workflow (no trainOnVm, no lease).
      const scheduled = events.flatMap((event) =>
        event.activityTaskScheduledEventAttributes
          ? [event.activityTaskScheduledEventAttributes.activityType?.name]
          : [],
      );
      expect(scheduled, label).toEqual(['planRun']);
      const attempts = events.flatMap((event) =>
        event.activityTaskStartedEventAttributes ? [event.activityTaskStartedEventAttributes.attempt] : [],
      );
      expect(attempts, label).toEqual([1]);
      expect(
        events.filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes),
        label,
      ).toEqual([]);
    });

    expect(existsSync(marker)).toBe(false);
    const vms = join(stack.dir, 'vms');
    expect(existsSync(vms) ? readdirSync(vms) : []).toEqual([]);
    expect((await stack.bq.bigquery.getDatasets())[0].map((dataset) => dataset.id)).toEqual(datasetsBefore);
    // Only the runs started here exist: no training child, no lease, no other workflow.
    const workflows: string[] = [];
    for await (const execution of client.workflow.list()) workflows.push(execution.type);
    expect(workflows.every((type) => type === 'runPipeline')).toBe(true);
  }, 240_000);
});

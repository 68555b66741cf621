import type { BigQuery } from '@google-cloud/bigquery';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';
import { parseStepSpec } from '../../activities/kinds/kind';
import type { StepExecution } from '../../activities/steps';
import type { JsonObject, PipelineDefinition } from '../../pipelines';
import {
  cutoffItems,
  parseEnvironmentConfig,
  selectCutoffs,
} from '../../pipelines/demand-forecast/environments';
import { forecastInputsKind } from '../../pipelines/demand-forecast/kinds';
import { demandForecastPipeline } from '../../pipelines/demand-forecast/pipeline';
import { runPipeline } from '../../workflows/run-pipeline';
import { createTimeSkippingEnv } from '../harness/temporal';
import { createRunnerWorker, StepScript, uniqueId } from './run-pipeline-harness';

/**
 * Seed 004's definition on the time-skipping server. Every step runs as the boundary stand-in
 * (`script`), except what decides the fan-out: the cutoff step uses the package's own config parsing
 * and cutoff selection on the real config files, and `prepared` is the real `forecast_inputs`
 * handler. The plan, the map steps, their item templates and cache keys are the real ones.
 */
const pipeline: PipelineDefinition = {
  ...demandForecastPipeline,
  steps: demandForecastPipeline.steps.map((step) => ({
    ...step,
    kind: 'script',
    retry: { maximumAttempts: 1 },
  })),
};
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
/** Refinement cutoffs in the input dataset; the last is after the runs' cutoff. */
const AVAILABLE = ['2026-01-05', '2026-02-02', '2026-03-02', '2026-04-06'];
const RUN_CUTOFF = '2026-03-16';

const inputs = forecastInputsKind.handler!({
  bigquery: {} as BigQuery, // forecast_inputs reads only the map's items
  config: {
    BIGQUERY_PROJECT: 'p',
    BIGQUERY_LOCATION: 'US',
    SCRATCH_DATASET_PREFIX: 'smc_',
    SCRATCH_EXPIRATION_DAYS: 30,
  },
  registryDir: '.',
  workDir: '.',
});

interface Recorded {
  trainings: JsonObject[];
  prepared: JsonObject[];
  published: number[];
}

function forecastScript(store: Set<string>) {
  const script = new StepScript();
  for (const name of store) script.existing.add(name);
  const seen: Recorded = { trainings: [], prepared: [], published: [] };
  const produce = (execution: StepExecution) => {
    for (const name of Object.values(execution.outputs)) {
      script.existing.add(name);
      store.add(name);
    }
  };
  script
    .behave('cutoffs', async (execution) => {
      const spec = execution.step.spec;
      const file = String(spec.config);
      const config = parseEnvironmentConfig(file, readFileSync(join(projectRoot, file), 'utf8'));
      const chosen = selectCutoffs(AVAILABLE, String(spec.until), spec.only_last === true);
      return {
        info: { cutoffs: cutoffItems(String(spec.environment), config, chosen) as unknown as JsonObject[] },
      };
    })
    .behave('prepare', async (execution) => {
      seen.prepared.push(execution.step.spec);
      produce(execution);
    })
    .behave(
      'prepared',
      async (execution, context) =>
        (await inputs.run(parseStepSpec(forecastInputsKind.spec, execution), context)) ?? undefined,
    )
    .behave('train', async (execution) => {
      seen.trainings.push({ ...execution.step.spec, model: execution.outputs.model ?? null });
      produce(execution);
    })
    .behave('publish', async (execution) => {
      seen.published.push(execution.items?.train?.length ?? -1);
    });
  return { script, seen };
}

describe('demand-forecast: cutoffs, environments and the map of trainings (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const run = async (script: StepScript, params: Record<string, string | boolean>) => {
    const worker = await createRunnerWorker(env, script, [pipeline]);
    return await worker.runUntil(
      env.client.workflow.execute(runPipeline, {
        args: [
          {
            pipeline: pipeline.name,
            cutoff: RUN_CUTOFF,
            params: { models_repo: '.', models_ref: commit, ...params },
          },
        ],
        workflowId: uniqueId(pipeline.name),
        taskQueue: worker.options.taskQueue,
      }),
    );
  };
  const cutoffsOf = (trainings: JsonObject[]) =>
    trainings.map((spec) => (spec.env as JsonObject).CUTOFF as string).sort();

  it('trains every available cutoff up to the run’s, or only the last, each on its prepared data', async () => {
    const store = new Set<string>();
    const all = forecastScript(store);
    const result = await run(all.script, { environment: 'dev', only_last: false });
    expect(result.state).toBe('succeeded');
    expect(cutoffsOf(all.seen.trainings)).toEqual(['2026-01-05', '2026-02-02', '2026-03-02']);
    // Each training reads the table its own cutoff's preparation wrote.
    const prepared = new Map(
      all.seen.prepared.map((spec) => [(spec.params as JsonObject).cutoff_date, spec]),
    );
    expect(prepared.size).toBe(3);
    for (const training of all.seen.trainings) {
      expect(training.data).toMatch(/^smc_demand_forecast\.prepare_[0-9a-f]{8}_i[0-9a-f]{8}$/);
    }
    expect(new Set(all.seen.trainings.map((t) => t.data)).size).toBe(3);
    expect(new Set(all.seen.trainings.map((t) => t.model)).size).toBe(3);
    // Forecasts are published per finished cutoff (one batch each), and once more with all of them.
    expect(all.seen.published.at(-1)).toBe(3);
    expect(all.seen.published.length).toBeGreaterThanOrEqual(2);

    const last = forecastScript(new Set());
    await run(last.script, { environment: 'dev', only_last: true });
    expect(cutoffsOf(last.seen.trainings)).toEqual(['2026-03-02']);
    expect(last.seen.published.at(-1)).toBe(1);

    // The same run again finds every preparation and training done: nothing is trained again.
    const again = forecastScript(store);
    const repeat = await run(again.script, { environment: 'dev', only_last: false });
    expect(again.seen.trainings).toEqual([]);
    expect(again.seen.prepared).toEqual([]);
    expect(repeat.steps.train?.state).toBe('succeeded');
  });

  it('binds datasets and the machine from the environment’s configuration file', async () => {
    const seen: Record<string, Recorded> = {};
    for (const environment of ['dev', 'prod']) {
      const { script, seen: recorded } = forecastScript(new Set());
      await run(script, { environment, only_last: true });
      seen[environment] = recorded;
    }
    const vm = (environment: string) => (seen[environment]?.trainings[0]?.vm as JsonObject).machineType;
    const sales = (environment: string) => (seen[environment]?.prepared[0]?.tables as JsonObject).sales;
    expect([vm('dev'), vm('prod')]).toEqual(['n1-standard-4', 'n1-highmem-16']);
    expect([sales('dev'), sales('prod')]).toEqual([
      'forecast_refined_dev.sales_weekly',
      'forecast_refined.sales_weekly',
    ]);
    // Different environments never share outputs: their items (datasets, machine) differ, so do their keys.
    expect(seen.dev?.trainings[0]?.model).not.toBe(seen.prod?.trainings[0]?.model);
  });
});

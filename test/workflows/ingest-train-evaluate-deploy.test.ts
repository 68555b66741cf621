import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineDefinition } from '../../pipelines';
import { ingestTrainEvaluateDeployPipeline } from '../../pipelines/ingest-train-evaluate-deploy/pipeline';
import type { RunPipelineInput } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { createTimeSkippingEnv } from '../harness/temporal';
import { createRunnerWorker, StepScript, uniqueId } from './run-pipeline-harness';

/**
 * Seed 003's definition with every step run by the boundary stand-in (`script`): the plan, cache
 * keys and caching are the real ones; a step "produces" its outputs by adding them to the script's
 * store, so a later run finds exactly what earlier runs finished.
 */
const pipeline: PipelineDefinition = {
  ...ingestTrainEvaluateDeployPipeline,
  steps: ingestTrainEvaluateDeployPipeline.steps.map((step) => ({
    ...step,
    kind: 'script',
    retry: { maximumAttempts: 1 },
  })),
};
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const STEPS = ['ingest', 'train', 'evaluate', 'deploy', 'retention'];

describe('ingest-train-evaluate-deploy: Luigi’s rule (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  /** A script whose steps store their planned outputs when they finish. */
  const storing = (script: StepScript, crashIn?: string) => {
    for (const id of STEPS) {
      script.behave(id, async (execution) => {
        if (id === crashIn) throw new Error(`${id} crashed`);
        for (const name of Object.values(execution.outputs)) script.existing.add(name);
      });
    }
    return script;
  };

  const run = async (script: StepScript, params: RunPipelineInput['params'] = {}) => {
    const worker = await createRunnerWorker(env, script, [pipeline]);
    return await worker.runUntil(
      env.client.workflow
        .execute(runPipeline, {
          args: [
            {
              pipeline: pipeline.name,
              cutoff: '2026-03-31',
              params: { models_repo: '.', models_ref: commit, ...params },
            },
          ],
          workflowId: uniqueId(pipeline.name),
          taskQueue: worker.options.taskQueue,
        })
        .catch((error: unknown) => error),
    );
  };
  const startedSteps = (script: StepScript) => STEPS.filter((id) => script.started(id) > 0);

  it('after a crash in evaluate, a run with the same parameters computes only evaluate, deploy and retention', async () => {
    const store = new StepScript();
    const crashed = await run(storing(store, 'evaluate'));
    expect(crashed).toBeInstanceOf(WorkflowFailedError);
    expect(startedSteps(store)).toEqual(['ingest', 'train', 'evaluate']);

    // The next run shares the store (the warehouse and the artifacts) but not the crash.
    const again = new StepScript();
    for (const name of store.existing) again.existing.add(name);
    const result = await run(storing(again));
    expect(result).not.toBeInstanceOf(Error);
    const steps = (result as Awaited<ReturnType<typeof runPipeline>>).steps;
    expect(steps.ingest?.state).toBe('cached');
    expect(steps.train?.state).toBe('cached');
    expect(startedSteps(again)).toEqual(['evaluate', 'deploy', 'retention']);
    expect(steps.deploy?.state).toBe('succeeded');

    // And one more identical run finds every output: nothing but retention runs.
    const third = new StepScript();
    for (const name of again.existing) third.existing.add(name);
    const all = (await run(storing(third))) as Awaited<ReturnType<typeof runPipeline>>;
    expect(startedSteps(third)).toEqual(['retention']);
    expect(['ingest', 'train', 'evaluate', 'deploy'].map((id) => all.steps[id]?.state)).toEqual([
      'cached',
      'cached',
      'cached',
      'cached',
    ]);
  });

  it('a changed training parameter retrains and re-evaluates but reuses the ingested records', async () => {
    const first = new StepScript();
    await run(storing(first), { epochs: 50 });
    const second = new StepScript();
    for (const name of first.existing) second.existing.add(name);
    await run(storing(second), { epochs: 60 });
    expect(startedSteps(second)).toEqual(['train', 'evaluate', 'deploy', 'retention']);
    // A changed holdout changes what is ingested, so everything downstream too.
    const third = new StepScript();
    for (const name of second.existing) third.existing.add(name);
    await run(storing(third), { epochs: 60, holdout_percent: 25 });
    expect(startedSteps(third)).toEqual(STEPS);
  });
});

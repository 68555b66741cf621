import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { BigQuery } from '@google-cloud/bigquery';
import { PipelineStepErrorType, type KindDeps } from '../../activities/kinds/common';
import { createTrainingStepActivities } from '../../activities/kinds/training';
import { itemVmProblem, planProblems, type RunPolicy } from '../../activities/run-policy';
import type { StepExecution } from '../../activities/steps';
import type { JsonObject, PlannedStep } from '../../pipelines/core/types';

const policy: RunPolicy = {
  modelsRepos: [],
  datasetProjects: [],
  instances: ['shared-gpu'],
  machineTypes: ['n1-standard-4', 'n1-standard-8'],
  accelerators: ['nvidia-tesla-t4'],
  maxAccelerators: 2,
  costCeilingUsd: 1000,
};

/** A `train` map step as planned: its VM fields come from the item. */
const mapSpec: JsonObject = {
  model: 'visits_share',
  script: 'train.py',
  data: 'smc_demo.data_0123abcd',
  code: 'models/visits_share',
  maxDuration: '1 hour',
  vm: { machineType: '{{item.machine_type}}', accelerator: '{{item.gpu}}' },
};

/** One item's execution, its spec filled as mapBatch fills it. */
function itemExecution(value: { machine_type: string; gpu: string }, index = 3): StepExecution {
  return {
    workflowId: 'demo/items',
    pipeline: 'demo',
    step: {
      id: 'per_area.train',
      kind: 'train',
      spec: { ...mapSpec, vm: { machineType: value.machine_type, accelerator: value.gpu } },
      version: '1',
      cacheKey: 'k',
    },
    outputs: { model: 'smc_demo.per_area_train_model_0123abcd' },
    inputs: {},
    attempt: 1,
    item: { index, key: 'k3', value },
  };
}

/** The warehouse stand-in: any use of it means the check let the item through to the export. */
const unreachableWarehouse = new Proxy(
  {},
  {
    get: (_target, property) => {
      if (property === 'projectId') return 'retrainer-test';
      throw new Error(`warehouse used (${String(property)})`);
    },
  },
) as BigQuery;

const deps: KindDeps = {
  bigquery: unreachableWarehouse,
  config: { BIGQUERY_PROJECT: 'retrainer-test', BIGQUERY_LOCATION: 'EU' } as KindDeps['config'],
  registryDir: 'unused-registry',
  workDir: 'unused-work',
  policy,
};

describe("a map item's VM is checked against the allow-lists when its spec is resolved", () => {
  it('the plan leaves {{item…}} VM fields to the item (nothing to check yet)', () => {
    const step = { id: 'per_area.train', spec: mapSpec } as unknown as PlannedStep;
    expect(planProblems([step], policy)).toEqual([]);
  });

  it('refuses a machine type outside ALLOWED_MACHINE_TYPES, non-retryably, naming step, item and field', async () => {
    const { prepareTrainingStep } = createTrainingStepActivities(deps);
    const error = await new MockActivityEnvironment()
      .run(prepareTrainingStep, itemExecution({ machine_type: 'a2-ultragpu-8g', gpu: '' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: PipelineStepErrorType.RESOURCE_NOT_ALLOWED, nonRetryable: true });
    expect((error as Error).message).toBe(
      'step per_area.train, item #3 ({"machine_type":"a2-ultragpu-8g","gpu":""}): vm.machineType: machine type "a2-ultragpu-8g" is not allowed (ALLOWED_MACHINE_TYPES)',
    );
  });

  it('refuses an accelerator type or count outside the policy, naming vm.accelerator', async () => {
    const { prepareTrainingStep } = createTrainingStepActivities(deps);
    const env = new MockActivityEnvironment();
    const type = await env
      .run(prepareTrainingStep, itemExecution({ machine_type: 'n1-standard-4', gpu: 'nvidia-h100-80gb:1' }))
      .catch((e: unknown) => e);
    expect((type as Error).message).toMatch(
      /item #3 .*: vm\.accelerator: accelerator nvidia-h100-80gb is not allowed \(ALLOWED_ACCELERATORS\)$/,
    );
    const count = await env
      .run(prepareTrainingStep, itemExecution({ machine_type: 'n1-standard-4', gpu: 'nvidia-tesla-t4:8' }))
      .catch((e: unknown) => e);
    expect((count as Error).message).toMatch(/vm\.accelerator: accelerator count 8 is outside 1\.\.2/);
  });

  it('lets an allowed item through to the export (nothing refused)', async () => {
    const { prepareTrainingStep } = createTrainingStepActivities(deps);
    const error = await new MockActivityEnvironment()
      .run(prepareTrainingStep, itemExecution({ machine_type: 'n1-standard-8', gpu: 'nvidia-tesla-t4:2' }))
      .catch((e: unknown) => e);
    // The export (the first thing after the check) reached the warehouse: nothing was refused.
    expect((error as Error).message).toBe(
      'export of smc_demo.data_0123abcd: warehouse used (createQueryJob)',
    );
  });

  it('quotes a hostile item briefly and checks a persistent instance name from the item', () => {
    const problem = itemVmProblem(
      { id: 's', spec: { vm: { persistent: true, name: '--help' } } },
      { index: 0, value: `--help ${'x'.repeat(500)}` },
      policy,
    );
    expect(problem).toMatch(/^step s, item #0 \("--help x+\): vm\.name: "--help" is not an instance name$/);
    expect((problem as string).length).toBeLessThan(200);
    expect(
      itemVmProblem(
        { id: 's', spec: { vm: { persistent: true, name: 'shared-gpu' } } },
        { index: 0, value: 1 },
        policy,
      ),
    ).toBeUndefined();
  });
});

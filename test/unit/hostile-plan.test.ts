import { ApplicationFailure } from '@temporalio/common';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan, type PlanRequest } from '../../activities/plan';
import { estimateRunCostUsd, runPolicyFromConfig, type RunPolicy } from '../../activities/run-policy';
import { loadConfig } from '../../config';
import { createPipelineRegistry, definePipeline, param } from '../../pipelines';
import { visitsScalingPipeline } from '../../pipelines/visits-scaling/pipeline';
import { RunnerErrorType } from '../../workflows/definitions';
import { testTempDir } from '../harness/paths';
import { stepKinds } from '../../workers/kinds';

// Plans are where every run is checked (runs, dry runs, schedules), so hostile input is tried here
// against the real plan code, the real git and the worker's policy built from config.
const policy: RunPolicy = runPolicyFromConfig(
  loadConfig({ ALLOWED_DATASET_PROJECTS: 'shared-data-project', RUN_COST_CEILING_USD: '100' }),
);
const registry = createPipelineRegistry([visitsScalingPipeline]);

let dir: string;
let marker: string;
beforeAll(() => {
  dir = testTempDir('hostile-plan');
  mkdirSync(dir, { recursive: true });
  marker = join(dir, 'pwned');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = (params: Record<string, unknown>): PlanRequest => ({
  pipeline: 'visits-scaling',
  workflowId: 'visits-scaling/hostile',
  startTime: '2026-11-23T09:00:00.000Z',
  params: params as PlanRequest['params'],
});

async function rejection(params: Record<string, unknown>, withPolicy = true): Promise<ApplicationFailure> {
  const error = await resolvePlan(
    {
      pipelines: registry,
      kinds: stepKinds,
      fetchRunSummary: async () => undefined,
      ...(withPolicy ? { policy } : {}),
    },
    request(params),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, JSON.stringify(params)).toBeInstanceOf(ApplicationFailure);
  expect((error as ApplicationFailure).nonRetryable).toBe(true);
  return error as ApplicationFailure;
}

describe('hostile run parameters are rejected at plan time, naming the field, running nothing', () => {
  it('never lets models_repo or models_ref become a git option, with or without the allow-list', async () => {
    const payloads: [Record<string, string>, string][] = [
      [{ models_repo: `--upload-pack=touch ${marker};` }, 'models_repo'],
      [{ models_repo: `--upload-pack=touch ${marker}`, models_ref: 'main' }, 'models_repo'],
      [{ models_ref: `--upload-pack=touch ${marker}` }, 'models_ref'],
      [{ models_ref: `--upload-pack=touch ${marker}`, models_repo: '.' }, 'models_ref'],
      [{ models_repo: `ext::sh -c touch% ${marker}` }, 'models_repo'],
      [{ models_repo: '.', models_ref: `-c core.sshCommand=touch ${marker}` }, 'models_ref'],
      [{ models_ref: `HEAD:${marker}` }, 'models_ref'],
      // A full commit id is taken as it is, but the repository is still checked first.
      [{ models_repo: `--upload-pack=touch ${marker}`, models_ref: 'a'.repeat(40) }, 'models_repo'],
    ];
    for (const [params, field] of payloads) {
      for (const withPolicy of [true, false]) {
        const error = await rejection(params, withPolicy);
        expect(error.type, `${JSON.stringify(params)} policy=${withPolicy}`).not.toBe(
          RunnerErrorType.CodeFileNotFound,
        );
        // The field first, as the caller wrote it (the step that uses it may follow).
        expect(error.message, `${JSON.stringify(params)} policy=${withPolicy}`).toMatch(
          new RegExp(`^parameter ${field}: `),
        );
      }
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('names models_ref when the ref does not exist, without git’s own text', async () => {
    for (const withPolicy of [true, false]) {
      const error = await rejection({ models_ref: 'no-such-branch-anywhere' }, withPolicy);
      expect(error.type).toBe(RunnerErrorType.RepoRefNotFound);
      expect(error.message).toMatch(
        /^parameter models_ref: step [\w.]+: ref no-such-branch-anywhere not found/,
      );
      expect(error.message).not.toMatch(/fatal|unknown revision|ambiguous argument/);
    }
  });

  it('keeps model repositories to MODELS_REPOS and does not return git’s own error text', async () => {
    const error = await rejection({ models_repo: 'https://example.invalid/evil.git' });
    expect(error.type).toBe(RunnerErrorType.InvalidParameters);
    expect(error.message).toMatch(/^parameter models_repo: repository .* is not in MODELS_REPOS/);
    const unreadable = await rejection({ models_repo: join(dir, 'no-repo') }, false);
    expect(unreadable.type).toBe(RunnerErrorType.RepoRefNotFound);
    // The first step that reads the repository (since the engine's change, a SQL step reads its file there).
    expect(unreadable.message).toMatch(/^parameter models_repo: step [\w.]+: cannot read /);
    expect(unreadable.message).not.toMatch(/fatal|does not appear to be a git repository/);
  });

  it('refuses constructor and __proto__ as parameter names', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const params = JSON.parse(`{"${name}": "x"}`) as Record<string, unknown>;
      const error = await rejection(params);
      expect(error.type).toBe(RunnerErrorType.InvalidParameters);
      expect(error.message).toContain(`unknown parameter ${name}`);
    }
  });

  it('keeps datasets to the warehouse project unless the project is allow-listed', async () => {
    for (const [name, value] of [
      ['production_dataset', 'other-project.payroll'],
      ['source_dataset', 'victim-project-1.secrets'],
      ['source_dataset', 'a.b.c'],
      ['production_dataset', 'visits`; DROP TABLE x; --'],
      ['source_dataset', '../../etc'],
    ] as const) {
      const error = await rejection({ [name]: value });
      expect(error.message).toMatch(new RegExp(`^parameter ${name}: `));
    }
    const allowed = await resolvePlan(
      { pipelines: registry, kinds: stepKinds, policy },
      request({ source_dataset: 'shared-data-project.visits' }),
    );
    expect(allowed.params.source_dataset).toBe('shared-data-project.visits');
  });

  it('takes instances, machine types and accelerators only from the allow-lists', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['quality_instance', 'prod-database-1', /instance prod-database-1 is not allowed/],
      ['quality_instance', '-oProxyCommand=x', /is not an instance name/],
      [
        'quality_notebook_train_machine_config',
        'a3-megagpu-8g',
        /machine type "a3-megagpu-8g" is not allowed/,
      ],
      ['quality_notebook_data_machine', 'n1-ultramem-160', /is not allowed/],
      [
        'quality_notebook_train_accelerator_config',
        'nvidia-h100-80gb:8',
        /accelerator nvidia-h100-80gb is not allowed/,
      ],
      ['quality_notebook_train_accelerator_config', 'nvidia-tesla-t4:64', /count 64 is outside 1\.\.4/],
    ];
    for (const [name, value, message] of cases) {
      const error = await rejection({ [name]: value });
      expect(error.message, name).toMatch(new RegExp(`^parameter ${name}: `));
      expect(error.message, name).toMatch(message);
    }
  });

  it('rejects a run whose trainings may cost more than RUN_COST_CEILING_USD', async () => {
    const error = await rejection({ max_training_duration: '1000 hours' });
    expect(error.message).toMatch(/may cost up to [\d.]+ USD .* above RUN_COST_CEILING_USD \(100\)/);
    const plan = await resolvePlan({ pipelines: registry, kinds: stepKinds, policy }, request({}));
    const cost = estimateRunCostUsd(plan.steps);
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThanOrEqual(100);
  });

  it('checks machines named in a step spec, not only through parameters', async () => {
    const direct = definePipeline('direct-vm', { parameters: { hours: param.string({ default: '1 hour' }) } })
      .step('train', {
        kind: 'train',
        spec: {
          model: 'm',
          script: 'models/quality/train.py',
          data: 'd.t',
          vm: { machineType: 'm2-ultramem-416' },
          maxDuration: '{{hours}}',
        },
      })
      .build();
    const error = await resolvePlan(
      { pipelines: createPipelineRegistry([direct]), kinds: stepKinds, policy },
      { ...request({}), pipeline: 'direct-vm', params: {} },
    ).then(
      () => undefined,
      (e: unknown) => e as ApplicationFailure,
    );
    expect(error?.message).toMatch(
      /^step train: vm\.machineType: machine type "m2-ultramem-416" is not allowed/,
    );
  });
});

import { Context } from '@temporalio/activity';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createBigQueryActivities } from '../bigquery';
import { whileHeartbeating } from '../heartbeat';
import { parseTableName } from '../bigquery/steps';
import { toLabelValue } from '../providers/naming';
import { itemVmProblem } from '../run-policy';
import type { JsonObject } from '../../pipelines/core/types';
import type { VmSpec } from '../providers/types';
import { z } from 'zod';
import type { StepExecution, StepResult, TypedExecution } from '../steps';
import type {
  CheckpointRef,
  CodeSource,
  TrainOnVmInput,
  TrainOnVmResult,
} from '../../workflows/training-types';
import {
  artifactDir,
  failure,
  modelVersionOf,
  PipelineStepErrorType,
  readJson,
  shortHash,
  type ModelArtifact,
  type KindDeps,
} from './common';
import { defineKind, parseStepSpec } from './kind';
import { modelProgram } from './program';
import { dateString, durationLike, name, programFolder, scalarText } from './schemas';

/** The spec of the `train` kind: what the `trainOnVm` child gets, from a training table. */
export const trainSpec = z.strictObject({
  /** Registry name of the model. */
  model: name,
  /** The program, from the code's root: run as `python3 <script> train --data <file>`. */
  script: name,
  /** The training table (`{{steps.<id>.data.table}}`), exported to NDJSON and uploaded. */
  data: name,
  /** Names the model's version (`<cutoff>-<key8>`); `'{{cutoff}}'` for a model of a data window. */
  cutoff: dateString.optional(),
  vm: z
    .strictObject({
      /** Instance name of a persistent instance (required with `persistent`). */
      name: z.string().optional(),
      persistent: z.boolean().default(false),
      machineImage: z.string().optional(),
      machineType: z.string().optional(),
      /** `type:count` (`nvidia-tesla-t4:1`); empty for none. */
      accelerator: z
        .string()
        .regex(/^([a-z0-9-]+(:[1-9][0-9]*)?)?$/, { error: 'expected type:count, e.g. nvidia-tesla-t4:1' })
        .optional(),
    })
    .refine((vm) => !vm.persistent || !!vm.name, {
      error: 'a persistent instance needs a name',
      path: ['name'],
    }),
  env: z.record(z.string(), scalarText).default({}),
  maxDuration: durationLike.default('12 hours'),
  policy: z
    .strictObject({
      requireConvergence: z.boolean().optional(),
      acceptCheckpointAfter: durationLike.optional(),
      maxRetries: z.number().int().min(0).optional(),
      onExhausted: z.enum(['needs-decision', 'fail']).optional(),
    })
    .optional(),
  monitor: z
    .strictObject({
      heartbeatTimeout: durationLike.optional(),
      pollInterval: durationLike.optional(),
      providerCheckAfter: durationLike.optional(),
      unreachableLimit: durationLike.optional(),
      maxReconnectBackoff: durationLike.optional(),
    })
    .optional(),
  /** The program's folder in the step's repository (shipped to the VM; its content is in the key). */
  code: programFolder,
  /** Without a `repo` on the step: a folder of the worker whose contents are uploaded (tests). */
  codeFolder: z.string().optional(),
});
export type TrainSpec = z.infer<typeof trainSpec>;

/**
 * The `train` kind runs as the `trainOnVm` child workflow (workflows/runner/dispatch.ts), with
 * `prepareTrainingStep` / `finishTrainingStep` around it; its handler only tells whether the model
 * exists (a train step is cacheable).
 */
export const trainKind = defineKind({
  name: 'train',
  // Unpinned, the training ships `codeFolder` (or the worker's folder, this build in development).
  program: (spec) => modelProgram(spec.code, [spec.script], spec.codeFolder),
  version: '2',
  runs: { by: 'child-workflow', workflow: 'trainOnVm' },
  spec: trainSpec,
  handler: (deps: KindDeps) => ({
    async run(execution) {
      throw failure(
        PipelineStepErrorType.INVALID_SPEC,
        `step ${execution.step.id}: train runs as a child workflow`,
      );
    },
    async outputsExist(execution) {
      return Object.values(execution.outputs).every((artifact) => trainedModelExists(deps, artifact));
    },
  }),
});

/** `nvidia-tesla-t4:1` → `{ type, count }`; empty means no accelerator. */
function parseAccelerator(text: string | undefined): VmSpec['accelerator'] {
  if (!text?.trim()) return undefined;
  const [type, count] = text.trim().split(':');
  return { type: type as string, count: Number(count ?? 1) || 1 };
}

/** Ids of one attempt of a training step: unique per run, step, map item and attempt; valid as a VM name. */
export function trainingIds(
  execution: Pick<StepExecution, 'workflowId' | 'attempt' | 'item'> & { step: { id: string } },
) {
  const slug = execution.step.id.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  // The items of a map step train at once: each needs its own VM, run folder and exported inputs.
  const item = execution.item ? `-${execution.item.index}` : '';
  const trainingId = `${slug}-${shortHash(execution.workflowId)}${item}-${execution.attempt}`;
  return { trainingId, vmName: `rt-${trainingId}`.slice(0, 63).replace(/-+$/, '') };
}

const artifactOf = (execution: Pick<StepExecution, 'outputs'> & { step: { id: string } }): string => {
  const name = execution.outputs.model;
  if (!name) {
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `train step ${execution.step.id} declares no output model`,
    );
  }
  return name;
};

/**
 * The `train` kind, around the `trainOnVm` child workflow that the runner starts (dispatch.ts):
 * `prepareTrainingStep` exports the training table to NDJSON and builds the child's input from the
 * step's spec; `finishTrainingStep` files the training's model, metrics and log under the step's
 * output name (`<registry>/artifacts/<output>/`), which is what makes a train step cacheable.
 */
export function createTrainingStepActivities(deps: KindDeps) {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const exportDir = (trainingId: string) => join(resolve(deps.workDir), 'train', trainingId);

  return {
    async prepareTrainingStep(given: StepExecution): Promise<TrainOnVmInput> {
      const execution: TypedExecution<TrainSpec> = parseStepSpec(trainSpec, given);
      const spec = execution.step.spec;
      const id = execution.step.id;
      // A map item's VM fields (`{{item.machine_type}}`) are known only now: checked before the export
      // and before trainOnVm provisions anything; a refused item fails alone, never retried.
      const refused =
        execution.item && deps.policy
          ? itemVmProblem({ id, spec: execution.step.spec as JsonObject }, execution.item, deps.policy)
          : undefined;
      if (refused) throw failure(PipelineStepErrorType.RESOURCE_NOT_ALLOWED, refused);
      const { trainingId, vmName } = trainingIds(execution);
      const { model, script, data: table, vm } = spec;
      const file = join(exportDir(trainingId), `${model}.ndjson`);
      await whileHeartbeating(() => warehouse.exportToFile({ table: parseTableName(table), path: file }), {
        phase: 'export',
        table,
      });

      // An operator's retry (attempt > 1) resumes from the latest checkpoint an earlier attempt left.
      const resumeFrom = latestCheckpointBefore(deps, execution);
      const persistent = vm.persistent;
      const labels = {
        run_id: toLabelValue(execution.workflowId),
        pipeline: toLabelValue(execution.pipeline),
        step: toLabelValue(id),
      };
      const vmSpec: VmSpec = {
        name: persistent ? (vm.name as string) : vmName,
        ...(vm.machineImage ? { machineImage: vm.machineImage } : {}),
        ...(persistent ? { persistent } : {}),
        ...(vm.machineType ? { machineType: vm.machineType } : {}),
        labels,
      };
      const accelerator = parseAccelerator(vm.accelerator);
      if (accelerator) vmSpec.accelerator = accelerator;

      const code: CodeSource =
        execution.step.repo && execution.step.commit
          ? { kind: 'git', repo: execution.step.repo.url, commit: execution.step.commit, path: spec.code }
          : { kind: 'folder', path: resolve(spec.codeFolder ?? '.') };
      return {
        trainingId,
        vm: vmSpec,
        code,
        inputs: [file],
        command: `python3 ${script} train --data "$INPUT_DIR/${model}.ndjson"`,
        env: spec.env,
        maxDuration: spec.maxDuration as TrainOnVmInput['maxDuration'],
        ...(spec.policy ? { policy: spec.policy as TrainOnVmInput['policy'] } : {}),
        ...(spec.monitor ? { monitor: spec.monitor as TrainOnVmInput['monitor'] } : {}),
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(deps.config.TEMPORAL_TASK_QUEUE_TRAINING
          ? { monitorTaskQueue: deps.config.TEMPORAL_TASK_QUEUE_TRAINING }
          : {}),
      };
    },

    /** Removes a training's exported inputs when the child ended without a result (failed, cancelled). */
    async discardTrainingInputs(input: { trainingId: string }): Promise<void> {
      Context.current().heartbeat();
      rmSync(exportDir(input.trainingId), { recursive: true, force: true });
    },

    /**
     * Files a training's result under the step's output (write to a temporary folder, then rename,
     * so a reader never sees half an artifact). A training that needs a decision still files its
     * latest checkpoint as the model: an operator who marks the step succeeded (seed 000: "the latest
     * checkpoint is good enough") lets the pipeline go on with it.
     */
    async finishTrainingStep(input: {
      execution: StepExecution;
      trainingId: string;
      result: TrainOnVmResult;
    }): Promise<StepResult> {
      const { result } = input;
      const execution: TypedExecution<TrainSpec> = parseStepSpec(trainSpec, input.execution);
      Context.current().heartbeat();
      rmSync(exportDir(input.trainingId), { recursive: true, force: true });
      const artifact = artifactOf(execution);
      const dir = artifactDir(deps, artifact);
      const temp = `${dir}.tmp-${input.trainingId}`;
      rmSync(temp, { recursive: true, force: true });
      mkdirSync(temp, { recursive: true });
      const from = result.outputs?.modelPath ?? result.outputs?.checkpointPath;
      if (from && existsSync(from)) {
        const modelFile = statSync(from).isDirectory() ? join(from, 'model.json') : from;
        if (existsSync(modelFile)) cpSync(modelFile, join(temp, 'model.json'));
      }
      if (result.outputs?.metricsPath) cpSync(result.outputs.metricsPath, join(temp, 'metrics.jsonl'));
      if (result.outputs?.logPath) cpSync(result.outputs.logPath, join(temp, 'train.log'));
      const record: ModelArtifact = {
        status: result.status,
        version: modelVersionOf(execution.step.spec.cutoff, artifact),
        model: execution.step.spec.model,
        trainingId: input.trainingId,
        runId: execution.workflowId,
        commit: execution.step.commit ?? 'working-tree',
        cutoff: execution.step.spec.cutoff ?? '',
        message: result.message,
        trainingMs: result.trainingMs,
        lastLoss: result.lastMetric?.loss ?? null,
      };
      writeFileSync(join(temp, 'result.json'), `${JSON.stringify(record, null, 2)}\n`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(temp, dir);
      return {
        outputs: execution.outputs,
        info: {
          status: result.status,
          version: record.version,
          trainingId: input.trainingId,
          attempts: result.attempts.length,
          trainingMs: result.trainingMs,
          lastLoss: record.lastLoss,
          modelPath: existsSync(join(dir, 'model.json')) ? join(dir, 'model.json') : null,
          checkpointPath: result.outputs?.checkpointPath ?? null,
          metricsPath: existsSync(join(dir, 'metrics.jsonl')) ? join(dir, 'metrics.jsonl') : null,
          ...(result.reason ? { reason: result.reason } : {}),
        },
      };
    },
  };
}

export type TrainingStepActivities = ReturnType<typeof createTrainingStepActivities>;

/** A train step's output exists when its artifact holds a model of a training that did not need a decision. */
export function trainedModelExists(deps: KindDeps, artifact: string): boolean {
  const result = readJson<ModelArtifact>(join(artifactDir(deps, artifact), 'result.json'));
  return (
    result !== undefined &&
    result.status !== 'needs-decision' &&
    existsSync(join(artifactDir(deps, artifact), 'model.json'))
  );
}

/**
 * The latest checkpoint collected by an earlier attempt of this step in this run (trainOnVm's
 * `<registry>/training/<trainingId>/checkpoint/`), newest attempt first; undefined on a first attempt.
 */
export function latestCheckpointBefore(
  deps: KindDeps,
  execution: Pick<StepExecution, 'workflowId' | 'step' | 'attempt'>,
): CheckpointRef | undefined {
  for (let attempt = execution.attempt - 1; attempt >= 1; attempt--) {
    const dir = join(
      resolve(deps.registryDir),
      'training',
      trainingIds({ ...execution, attempt }).trainingId,
      'checkpoint',
    );
    if (!existsSync(dir)) continue;
    const newest = readdirSync(dir)
      .map((name) => ({ name, stat: statSync(join(dir, name)) }))
      .sort((a, b) => b.stat.mtimeMs - a.stat.mtimeMs || b.name.localeCompare(a.name))[0];
    if (newest) return { name: newest.name, localPath: join(dir, newest.name), size: newest.stat.size };
  }
  return undefined;
}

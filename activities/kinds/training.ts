import { Context } from '@temporalio/activity';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBigQueryActivities } from '../bigquery';
import { whileHeartbeating } from '../heartbeat';
import { parseTableName } from '../bigquery/steps';
import { toLabelValue } from '../providers/naming';
import type { VmSpec } from '../providers/types';
import type { StepExecution, StepResult } from '../steps';
import type { JsonObject, JsonValue } from '../../pipelines/core';
import type {
  CodeSource,
  TrainOnVmInput,
  TrainOnVmResult,
  TrainingPolicy,
  MonitorTiming,
} from '../../workflows/training-types';
import {
  artifactDir,
  failure,
  modelVersionOf,
  PipelineStepErrorType,
  readJson,
  shortHash,
  specObject,
  specString,
  str,
  type ModelArtifact,
  type KindDeps,
} from './common';

/** `nvidia-tesla-t4:1` → `{ type, count }`; empty means no accelerator. */
function parseAccelerator(value: JsonValue | undefined): VmSpec['accelerator'] {
  const text = str(value).trim();
  if (!text) return undefined;
  const [type, count] = text.split(':');
  return { type: type as string, count: Number(count ?? 1) || 1 };
}

/** Ids of one attempt of a training step: unique per run, step, map item and attempt; valid as a VM name. */
export function trainingIds(execution: Pick<StepExecution, 'workflowId' | 'step' | 'attempt' | 'item'>) {
  const slug = execution.step.id.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  // The items of a map step train at once: each needs its own VM, run folder and exported inputs.
  const item = execution.item ? `-${execution.item.index}` : '';
  const trainingId = `${slug}-${shortHash(execution.workflowId)}${item}-${execution.attempt}`;
  return { trainingId, vmName: `rt-${trainingId}`.slice(0, 63).replace(/-+$/, '') };
}

const artifactOf = (execution: Pick<StepExecution, 'outputs' | 'step'>): string => {
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
    async prepareTrainingStep(execution: StepExecution): Promise<TrainOnVmInput> {
      const spec = execution.step.spec;
      const id = execution.step.id;
      const { trainingId, vmName } = trainingIds(execution);
      const model = specString(execution, 'model');
      const script = specString(execution, 'script');
      const table = specString(execution, 'data');
      const file = join(exportDir(trainingId), `${model}.ndjson`);
      await whileHeartbeating(() => warehouse.exportToFile({ table: parseTableName(table), path: file }), {
        phase: 'export',
        table,
      });

      const vm = specObject(spec, 'vm', id);
      const persistent = vm.persistent === true;
      const labels = {
        run_id: toLabelValue(execution.workflowId),
        pipeline: toLabelValue(execution.pipeline),
        step: toLabelValue(id),
      };
      const vmSpec: VmSpec = {
        name: persistent ? str(vm.name) : vmName,
        ...(vm.machineImage ? { machineImage: str(vm.machineImage) } : {}),
        ...(persistent ? { persistent } : {}),
        ...(vm.machineType ? { machineType: str(vm.machineType) } : {}),
        labels,
      };
      const accelerator = parseAccelerator(vm.accelerator);
      if (accelerator) vmSpec.accelerator = accelerator;

      const code: CodeSource =
        execution.step.repo && execution.step.commit
          ? { kind: 'git', repo: execution.step.repo.url, commit: execution.step.commit }
          : { kind: 'folder', path: resolve(str(spec.codeFolder, '.')) };
      const env = Object.fromEntries(
        Object.entries((spec.env as JsonObject | undefined) ?? {}).map(([key, value]) => [key, str(value)]),
      );
      return {
        trainingId,
        vm: vmSpec,
        code,
        inputs: [file],
        command: `python3 ${script} train --data "$INPUT_DIR/${model}.ndjson"`,
        env,
        maxDuration: str(spec.maxDuration, '12 hours') as TrainOnVmInput['maxDuration'],
        ...(spec.policy ? { policy: spec.policy as TrainingPolicy } : {}),
        ...(spec.monitor ? { monitor: spec.monitor as MonitorTiming } : {}),
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
      const { execution, result } = input;
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
        version: modelVersionOf(execution.cutoff, artifact),
        model: specString(execution, 'model'),
        trainingId: input.trainingId,
        runId: execution.workflowId,
        commit: execution.step.commit ?? 'working-tree',
        cutoff: execution.cutoff,
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

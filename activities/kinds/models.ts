import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createBigQueryActivities } from '../bigquery';
import { parseTableName } from '../bigquery/steps';
import { createRegistryActivities } from '../registry';
import { z } from 'zod';
import type { StepExecution } from '../steps';
import type { JsonObject } from '../../pipelines/core';
import {
  artifactDir,
  failure,
  modelFileOf,
  PipelineStepErrorType,
  readJson,
  readModelArtifact,
  runLabels,
  pinnedCodeOf,
  runModel,
  shortHash,
  type KindDeps,
} from './common';
import { defineKind } from './kind';
import { name, programFolder } from './schemas';

/** What `evaluate` decides and keeps in `<artifacts>/<decision output>/decision.json`. */
export interface EvaluationDecision {
  promote: boolean;
  reason: string;
  maxRatio: number;
  models: Record<
    string,
    {
      challenger: number;
      champion: number | null;
      championVersion: string | null;
      version: string;
      rows: number;
      passed: boolean;
    }
  >;
}

/** The spec of `predict`: a model's predictions over a table, loaded into the step's table. */
export const predictSpec = z.strictObject({
  model: name,
  /** The model program (`models/<model>/train.py`), run as `<script> predict`. */
  script: name,
  /** The trained model (`{{steps.<model>.train.model}}`). */
  artifact: name,
  /** The rows to predict. */
  data: name,
  /** The columns of the program's predictions file; `model_version` is added. */
  schema: z.array(z.strictObject({ name, type: name })).min(1),
  /** The program's folder in the step's repository (checked out at the pinned commit). */
  code: programFolder,
});

/** The spec of `evaluate`: champion / challenger per model on the same labelled rows. */
export const evaluateSpec = z.strictObject({
  /** A challenger passes when its MSE ≤ this × the champion's. */
  max_ratio: z.number().positive().default(1),
  models: z.array(z.strictObject({ model: name, script: name, artifact: name, data: name })).min(1),
  /** The programs' folder in the step's repository (checked out at the pinned commit). */
  code: programFolder,
});

/** Adds `model_version` to every line of a predictions file (production tables carry it). */
async function withModelVersion(input: string, output: string, version: string): Promise<void> {
  const out = createWriteStream(output);
  for await (const line of createInterface({ input: createReadStream(input), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const row = { ...(JSON.parse(line) as Record<string, unknown>), model_version: version };
    if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

/**
 * `predict` (a model's predictions loaded into the step's table, with `model_version`) and `evaluate`
 * (champion / challenger: the new model and the registry's `production` version scored by the same
 * `train.py evaluate` on the same labelled rows). Both run the model programs on the worker.
 */
function modelHandlerDeps(deps: KindDeps) {
  const workFolder = (
    execution: Pick<StepExecution, 'workflowId' | 'attempt'> & { step: { id: string } },
  ) => {
    const dir = join(
      resolve(deps.workDir),
      execution.step.id,
      shortHash(`${execution.workflowId}/${execution.attempt}`),
    );
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  return {
    warehouse: createBigQueryActivities(deps.bigquery, deps.config),
    registry: createRegistryActivities(resolve(deps.registryDir)),
    workFolder,
  };
}

export const predictKind = defineKind({
  name: 'predict',
  program: (spec) => spec.code,
  version: '2',
  runs: { by: 'activity' },
  spec: predictSpec,
  handler: (deps: KindDeps) => {
    const { warehouse, workFolder } = modelHandlerDeps(deps);
    return {
      async run(execution, context) {
        const { artifact, schema, script, data: source } = execution.step.spec;
        const model = readModelArtifact(deps, artifact);
        const destination = execution.outputs.table;
        if (!destination)
          throw failure(
            PipelineStepErrorType.INVALID_SPEC,
            `step ${execution.step.id} declares no output table`,
          );
        const dir = workFolder(execution);
        try {
          const data = join(dir, 'data.ndjson');
          await warehouse.exportToFile({ table: parseTableName(source), path: data });
          context.heartbeat({ phase: 'predict' });
          await runModel(
            deps,
            script,
            [
              'predict',
              '--model',
              modelFileOf(deps, artifact),
              '--data',
              data,
              '--out',
              join(dir, 'raw.ndjson'),
            ],
            context.signal,
            pinnedCodeOf(execution, execution.step.spec.code),
          );
          await withModelVersion(join(dir, 'raw.ndjson'), join(dir, 'predictions.ndjson'), model.version);
          const loaded = await warehouse.loadFromFile({
            path: join(dir, 'predictions.ndjson'),
            table: parseTableName(destination),
            schema: [...schema, { name: 'model_version', type: 'STRING' }],
            labels: runLabels(execution),
          });
          const table = `${loaded.table.dataset}.${loaded.table.table}`;
          return { info: { rows: loaded.rows, table, version: model.version, createdTables: [table] } };
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      async outputsExist(execution) {
        for (const name of Object.values(execution.outputs)) {
          if (!(await warehouse.describeTable({ table: parseTableName(name) })).exists) return false;
          await warehouse.keepTable({ table: parseTableName(name) });
        }
        return true;
      },
    };
  },
});

export const evaluateKind = defineKind({
  name: 'evaluate',
  program: (spec) => spec.code,
  version: '2',
  runs: { by: 'activity' },
  spec: evaluateSpec,
  handler: (deps: KindDeps) => {
    const { warehouse, registry, workFolder } = modelHandlerDeps(deps);
    return {
      async run(execution, context) {
        const maxRatio = execution.step.spec.max_ratio;
        const dir = workFolder(execution);
        const decision: EvaluationDecision = { promote: true, reason: '', maxRatio, models: {} };
        const score = async (script: string, modelFile: string, data: string) => {
          const out = await runModel(
            deps,
            script,
            ['evaluate', '--model', modelFile, '--data', data],
            context.signal,
            pinnedCodeOf(execution, execution.step.spec.code),
          );
          return JSON.parse(out.trim().split('\n').pop() as string) as { rows: number; mse: number };
        };
        try {
          for (const { model: name, script, artifact, data: table } of execution.step.spec.models) {
            const challenger = readModelArtifact(deps, artifact);
            const data = join(dir, `${name}.ndjson`);
            await warehouse.exportToFile({ table: parseTableName(table), path: data });
            context.heartbeat({ phase: 'evaluate', model: name });
            const mine = await score(script, modelFileOf(deps, artifact), data);
            const production = await registry.getModelAlias({ model: name });
            const theirs = production
              ? await score(script, join(production.path, production.modelFile), data)
              : null;
            // "At least as good" within floating-point noise: the same model trained on the same rows
            // read in another order scores a few ulps apart.
            const passed = theirs === null || mine.mse <= maxRatio * theirs.mse * (1 + 1e-9);
            decision.models[name] = {
              challenger: mine.mse,
              champion: theirs?.mse ?? null,
              championVersion: production?.version ?? null,
              version: challenger.version,
              rows: mine.rows,
              passed,
            };
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const worse = Object.entries(decision.models).filter(([, m]) => !m.passed);
        decision.promote = worse.length === 0;
        decision.reason = decision.promote
          ? 'every challenger is at least as good as its champion'
          : `not promoted: ${worse
              .map(
                ([name, m]) =>
                  `${name} challenger mse ${m.challenger.toPrecision(4)} > ${maxRatio} × champion ${m.champion?.toPrecision(4)}`,
              )
              .join('; ')}`;
        writeArtifact(deps, execution, 'decision', 'decision.json', decision);
        return { info: decision as unknown as JsonObject };
      },
      /**
       * A decision holds while it is about today's production: the champions it was made against are
       * still in production, or its own challengers are (it was applied). When production moved on
       * (another run promoted), the challengers are evaluated again against the new champions.
       */
      async outputsExist(execution) {
        const decision = readDecision(deps, execution.outputs.decision ?? '');
        if (!decision) return false;
        const models = Object.entries(decision.models);
        const current = await Promise.all(
          models.map(async ([model]) => (await registry.getModelAlias({ model }))?.version ?? null),
        );
        return (
          models.every(([, m], i) => m.championVersion === current[i]) ||
          models.every(([, m], i) => m.version === current[i])
        );
      },
    };
  },
});

/** Writes `<artifacts>/<output>/<file>` whole or not at all. */
export function writeArtifact(
  deps: KindDeps,
  execution: Pick<StepExecution, 'outputs'> & { step: { id: string } },
  output: string,
  file: string,
  value: unknown,
): string {
  const name = execution.outputs[output];
  if (!name)
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `step ${execution.step.id} declares no output ${output}`,
    );
  const dir = artifactDir(deps, name);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

export const readDecision = (deps: KindDeps, artifact: string): EvaluationDecision | undefined =>
  readJson<EvaluationDecision>(join(artifactDir(deps, artifact), 'decision.json'));

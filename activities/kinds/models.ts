import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createBigQueryActivities, type RunLabels, type TableRef } from '../bigquery';
import { parseTableName } from '../bigquery/steps';
import { z } from 'zod';
import type { StepExecution } from '../steps';
import type { JsonObject } from '../../pipelines/core';
import {
  artifactDir,
  failure,
  modelFileOf,
  modelFileOnDisk,
  modelRegistryOf,
  PipelineStepErrorType,
  readJson,
  readModelArtifact,
  runLabels,
  pinnedCodeOf,
  runModel,
  type PinnedCode,
  shortHash,
  type KindDeps,
} from './common';
import { defineKind } from './kind';
import { modelProgram } from './program';
import { name, programFolder } from './schemas';

/** The verdict on one model: both scores on the same held-out rows, and the margin applied. */
export interface ModelVerdict {
  /** Challenger MSE on the held-out rows. */
  challenger: number;
  /** Champion (registry `production`) MSE on the same rows; null when there is no champion. */
  champion: number | null;
  championVersion: string | null;
  version: string;
  /** Held-out rows both were scored on. */
  rows: number;
  /** The held-out table (`dataset.table`). */
  heldOut: string;
  /** Relative margin: the challenger passes when its MSE ≤ (1 + margin) × the champion's. */
  margin: number;
  /** (challenger − champion) / champion; null without a champion. */
  relativeGap: number | null;
  /** `better`, `tie` (within the margin: promoted, the tie rule) or `worse`; `no-champion`. */
  outcome: 'better' | 'tie' | 'worse' | 'no-champion';
  passed: boolean;
}

/** What `evaluate` decides and keeps in `<artifacts>/<decision output>/decision.json`. */
export interface EvaluationDecision {
  promote: boolean;
  reason: string;
  /** The tie rule, stated in every decision. */
  tieRule: string;
  models: Record<string, ModelVerdict>;
}

export const TIE_RULE =
  'a challenger within its margin of the champion ties, and a tie promotes the challenger (trained on the newer data)';

/**
 * The verdict for one model, from both MSEs on the same rows: better (lower than the champion's),
 * tie (higher but within the relative margin: promoted, TIE_RULE) or worse (not promoted).
 */
export function judgeChallenger(
  challenger: number,
  champion: number | null,
  margin: number,
): Pick<ModelVerdict, 'relativeGap' | 'outcome' | 'passed'> {
  if (champion === null) return { relativeGap: null, outcome: 'no-champion', passed: true };
  const relativeGap = champion > 0 ? (challenger - champion) / champion : challenger > 0 ? Infinity : 0;
  const outcome = challenger <= champion ? 'better' : challenger <= champion * (1 + margin) ? 'tie' : 'worse';
  return { relativeGap, outcome, passed: outcome !== 'worse' };
}

const percent = (value: number) => `${Number((value * 100).toPrecision(3))}%`;

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

/** The spec of `evaluate`: champion / challenger per model on the same held-out rows. */
export const evaluateSpec = z.strictObject({
  models: z
    .array(
      z.strictObject({
        model: name,
        script: name,
        artifact: name,
        /** The labelled held-out rows both models are scored on. */
        data: name,
        /** Relative margin (0.02 is 2 %): the challenger passes when its MSE ≤ (1 + margin) × the champion's. */
        margin: z.number().nonnegative().default(0),
      }),
    )
    .min(1),
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
    registry: modelRegistryOf(deps),
    workFolder,
  };
}

/** What `predictToTable` needs: a model artifact, the rows to predict, where the predictions go. */
export interface PredictToTableInput {
  /** The model program (`models/<model>/train.py`), run as `<script> predict`. */
  script: string;
  /** The trained model's artifact (a training step's `model` output). */
  artifact: string;
  source: TableRef;
  destination: TableRef;
  /** The columns of the program's predictions file; `model_version` is added. */
  schema: { name: string; type: string }[];
  /** Columns of the rows copied to their predictions beside the model's id columns (`--keep`). */
  keep?: string[];
  /** A scratch folder of this execution, removed at the end. */
  dir: string;
  labels: RunLabels;
  code: PinnedCode | undefined;
  signal: AbortSignal;
  heartbeat?: () => void;
}

/**
 * A model's predictions over a table, with `model_version` (the artifact's version), loaded into
 * `destination` (replacing it): export, `<script> predict` on the worker, load. `predict` and the
 * kinds built on it (visits-scaling's gap fill) use it.
 */
export async function predictToTable(
  deps: KindDeps,
  input: PredictToTableInput,
): Promise<{ rows: number; table: string; version: string }> {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  const model = readModelArtifact(deps, input.artifact);
  const dir = input.dir;
  mkdirSync(dir, { recursive: true });
  try {
    const data = join(dir, 'data.ndjson');
    await warehouse.exportToFile({ table: input.source, path: data });
    input.heartbeat?.();
    await runModel(
      deps,
      input.script,
      [
        'predict',
        '--model',
        modelFileOf(deps, input.artifact),
        '--data',
        data,
        '--out',
        join(dir, 'raw.ndjson'),
        ...(input.keep ?? []).flatMap((column) => [`--keep=${column}`]),
      ],
      input.signal,
      input.code,
    );
    await withModelVersion(join(dir, 'raw.ndjson'), join(dir, 'predictions.ndjson'), model.version);
    const loaded = await warehouse.loadFromFile({
      path: join(dir, 'predictions.ndjson'),
      table: input.destination,
      schema: [...input.schema, { name: 'model_version', type: 'STRING' }],
      labels: input.labels,
    });
    return {
      rows: loaded.rows,
      table: `${loaded.table.dataset}.${loaded.table.table}`,
      version: model.version,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const predictKind = defineKind({
  name: 'predict',
  version: '2',
  runs: { by: 'activity' },
  spec: predictSpec,
  program: (spec) => modelProgram(spec.code, [spec.script]),
  handler: (deps: KindDeps) => {
    const { warehouse, workFolder } = modelHandlerDeps(deps);
    return {
      async run(execution, context) {
        const { artifact, schema, script, data: source } = execution.step.spec;
        const destination = execution.outputs.table;
        if (!destination)
          throw failure(
            PipelineStepErrorType.INVALID_SPEC,
            `step ${execution.step.id} declares no output table`,
          );
        const predicted = await predictToTable(deps, {
          script,
          artifact,
          source: parseTableName(source),
          destination: parseTableName(destination),
          schema,
          dir: workFolder(execution),
          labels: runLabels(execution),
          code: pinnedCodeOf(execution, execution.step.spec.code),
          signal: context.signal,
          heartbeat: () => context.heartbeat({ phase: 'predict' }),
        });
        return { info: { ...predicted, createdTables: [predicted.table] } };
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
  version: '2',
  runs: { by: 'activity' },
  spec: evaluateSpec,
  program: (spec) =>
    modelProgram(
      spec.code,
      spec.models.map((entry) => entry.script),
    ),
  handler: (deps: KindDeps) => {
    const { warehouse, registry, workFolder } = modelHandlerDeps(deps);
    return {
      async run(execution, context) {
        const dir = workFolder(execution);
        const decision: EvaluationDecision = { promote: true, reason: '', tieRule: TIE_RULE, models: {} };
        const score = async (script: string, modelFile: string, data: string) => {
          const out = await runModel(
            deps,
            script,
            ['evaluate', '--model', modelFile, '--data', data],
            context.signal,
            pinnedCodeOf(execution, execution.step.spec.code),
          );
          return JSON.parse(out.trim().split('\n').pop() as string) as { rows: number; mse: number | null };
        };
        const noRows = (name: string, table: string) =>
          failure(
            PipelineStepErrorType.EVALUATION_NO_ROWS,
            `step ${execution.step.id}: ${name} has no labelled held-out rows in ${table}; nothing to compare on`,
          );
        try {
          for (const entry of execution.step.spec.models) {
            const { model: name, script, artifact, data: table, margin } = entry;
            const challenger = readModelArtifact(deps, artifact);
            // One export, scored by both models: the same rows by construction.
            const data = join(dir, `${name}.ndjson`);
            await warehouse.exportToFile({ table: parseTableName(table), path: data });
            context.heartbeat({ phase: 'evaluate', model: name });
            const mine = await score(script, modelFileOf(deps, artifact), data);
            if (mine.mse === null || mine.rows === 0) throw noRows(name, table);
            const production = await registry.getModelAlias({ model: name });
            const theirs = production
              ? await score(script, await modelFileOnDisk(deps, production), data)
              : null;
            if (theirs && (theirs.mse === null || theirs.rows !== mine.rows)) {
              throw failure(
                PipelineStepErrorType.MODEL_COMMAND_FAILED,
                `step ${execution.step.id}: ${name}'s champion scored ${theirs.rows} rows, the challenger ${mine.rows}`,
              );
            }
            const champion = theirs?.mse ?? null;
            decision.models[name] = {
              challenger: mine.mse,
              champion,
              championVersion: production?.version ?? null,
              version: challenger.version,
              rows: mine.rows,
              heldOut: table,
              margin,
              ...judgeChallenger(mine.mse, champion, margin),
            };
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const worse = Object.entries(decision.models).filter(([, m]) => !m.passed);
        decision.promote = worse.length === 0;
        const ties = Object.entries(decision.models).filter(([, m]) => m.outcome === 'tie');
        decision.reason = decision.promote
          ? ties.length === 0
            ? 'every challenger is at least as good as its champion on the held-out rows'
            : `every challenger is better than or ties with its champion on the held-out rows (ties within the margin: ${ties
                .map(([name, m]) => `${name} +${percent(m.relativeGap ?? 0)} ≤ ${percent(m.margin)}`)
                .join(', ')})`
          : `not promoted: ${worse
              .map(
                ([name, m]) =>
                  `${name} challenger mse ${m.challenger.toPrecision(4)} > champion ${m.champion?.toPrecision(4)} + ${percent(m.margin)} on ${m.rows} held-out rows`,
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

import type { RunPolicy } from '../run-policy';
import { ApplicationFailure } from '@temporalio/common';
import type { BigQuery } from '@google-cloud/bigquery';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { BigQueryActivitiesConfig } from '../bigquery/context';
import type { JsonValue } from '../../pipelines/core';
import { createRegistryActivities, localModelFile, type ModelVersion } from '../registry';
import type { StepExecution } from '../steps';

/** Failure types of the generic step kinds (train, predict, evaluate, promote, cleanup) and kinds built on them. */
export enum PipelineStepErrorType {
  /** The step's spec lacks a field or has one of the wrong type: a definition bug, never retried. */
  INVALID_SPEC = 'PipelineStepInvalidSpec',
  /** A model artifact (model.json of a training) is missing. */
  ARTIFACT_MISSING = 'PipelineStepArtifactMissing',
  /** The model program (predict, evaluate) exited non-zero. */
  MODEL_COMMAND_FAILED = 'PipelineStepModelCommandFailed',
  /** evaluate found no labelled held-out rows: there is nothing to compare champion and challenger on. */
  EVALUATION_NO_ROWS = 'PipelineStepEvaluationNoRows',
  /** A map item's resolved VM (machine type, accelerator, instance) is not in the worker's allow-lists. */
  RESOURCE_NOT_ALLOWED = 'PipelineStepResourceNotAllowed',
}

/** What the step kinds close over; the worker builds it once. */
export interface KindDeps {
  bigquery: BigQuery;
  config: BigQueryActivitiesConfig & {
    REGISTRY_KEEP_VERSIONS?: number;
    /** Where the trainings' monitors run (config/index.ts); empty or absent: the workflow's queue. */
    TEMPORAL_TASK_QUEUE_TRAINING?: string;
  };
  /** Model registry root; training artifacts live under `<registry>/artifacts/<output name>/`. */
  registryDir: string;
  /**
   * Where model versions and aliases live when not in `registryDir`: `gs://bucket/prefix`
   * (REGISTRY_URL); artifacts stay in `registryDir`.
   */
  registryUrl?: string;
  /** Cloud Storage API endpoint for `registryUrl` (GCS_API_ENDPOINT; empty: the real API). */
  gcsApiEndpoint?: string;
  /** Scratch folder for files moved between the warehouse and the models (removed after each step). */
  workDir: string;
  /** Folder holding `models/` for worker-side predict and evaluate (default: this checkout). */
  projectDir?: string;
  python?: string;
  /**
   * The worker's run policy (allow-lists): a map item's VM, known only once its item is filled in,
   * is checked against it before anything is provisioned. Absent: no check (unit tests).
   */
  policy?: RunPolicy;
}

export const failure = (type: PipelineStepErrorType, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

export const str = (value: JsonValue | undefined, fallback = ''): string =>
  value === undefined || value === null ? fallback : String(value);

export const shortHash = (text: string, length = 8): string =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** The artifact folder of a step output that is not a table (a model, a decision, a promotion record). */
export const artifactDir = (deps: KindDeps, output: string): string =>
  join(resolve(deps.registryDir), 'artifacts', output);

/** The model registry of the step kinds: `registryUrl` (a bucket) when set, else the registry folder. */
export const modelRegistryOf = (deps: KindDeps) =>
  createRegistryActivities(deps.registryUrl || resolve(deps.registryDir), {
    apiEndpoint: deps.gcsApiEndpoint,
  });

/** A local copy of a registry version's model file (downloaded into the work folder from a bucket). */
export const modelFileOnDisk = (deps: KindDeps, version: ModelVersion): Promise<string> =>
  localModelFile(version, {
    apiEndpoint: deps.gcsApiEndpoint,
    cacheDir: join(resolve(deps.workDir), 'registry-cache'),
  });

export function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Registry version of a trained model: the cutoff its spec names (or `model`) plus the training's
 * cache key, so the same computation always publishes under the same name and a new one never
 * collides with it.
 */
export const modelVersionOf = (cutoff: string | undefined, artifact: string): string =>
  `${cutoff ?? 'model'}-${artifact.slice(-8)}`;

/** What finishTrainingStep leaves in a model artifact (`result.json`). */
export interface ModelArtifact {
  status: 'succeeded' | 'accepted-checkpoint' | 'needs-decision';
  version: string;
  model: string;
  trainingId: string;
  runId: string;
  commit: string;
  cutoff: string;
  message: string;
  trainingMs: number;
  lastLoss: number | null;
}

export const modelFileOf = (deps: KindDeps, artifact: string): string =>
  join(artifactDir(deps, artifact), 'model.json');

export function readModelArtifact(deps: KindDeps, artifact: string): ModelArtifact {
  const result = readJson<ModelArtifact>(join(artifactDir(deps, artifact), 'result.json'));
  if (!result || !existsSync(modelFileOf(deps, artifact))) {
    throw failure(
      PipelineStepErrorType.ARTIFACT_MISSING,
      `model artifact ${artifact} has no model.json (the training produced neither a model nor a checkpoint)`,
    );
  }
  return result;
}

const execFileAsync = promisify(execFile);

/**
 * The Python that runs model programs on the worker when the deps name none: the project's `.venv`
 * (scripts/setup.sh installs the pinned packages there: numpy, scikit-learn) when there is one, else
 * `python3` from PATH (the production image, with the same pins installed).
 */
export function defaultModelPython(projectDir = join(__dirname, '..', '..')): string {
  const venv = join(resolve(projectDir), '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** The commit of the models repository a step runs, pinned by the plan (from the step's `repo`). */
export interface PinnedCode {
  repo: string;
  commit: string;
  /** The program's folder (`models`): only it is checked out. */
  path: string;
}

/** The pinned code of a step, when its definition names a repo (the plan pins it to a commit). */
export const pinnedCodeOf = (
  execution: { step: Pick<StepExecution['step'], 'repo' | 'commit'> },
  path: string,
): PinnedCode | undefined =>
  execution.step.repo && execution.step.commit
    ? { repo: execution.step.repo.url, commit: execution.step.commit, path }
    : undefined;

/**
 * The models at a pinned commit, extracted once into `<workDir>/code/<commit>/` (atomically: a
 * half-written folder is never used), so predict and evaluate run the same code the training ran.
 */
async function checkout(deps: KindDeps, code: PinnedCode, signal: AbortSignal): Promise<string> {
  const target = join(resolve(deps.workDir), 'code', `${code.commit}-${shortHash(code.path)}`);
  if (existsSync(target)) return target;
  const staging = `${target}.${process.pid}.${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  try {
    await execFileAsync(
      'sh',
      [
        '-c',
        'git -C "$1" archive --format=tar "$2" -- "$4" | tar -x -C "$3"',
        'sh',
        code.repo,
        code.commit,
        staging,
        code.path,
      ],
      {
        signal,
      },
    );
    if (!existsSync(target)) renameSync(staging, target);
  } catch (error) {
    if (signal.aborted) throw error;
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw failure(
      PipelineStepErrorType.MODEL_COMMAND_FAILED,
      `cannot check out ${code.repo} at ${code.commit}: ${stderr.trim()}`,
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

/**
 * The whole environment of a model program: enough to find Python and write temporary files, nothing
 * of the worker's (no cloud or SMTP credentials, no Temporal address), since the program comes from a
 * repository and runs with the worker's rights.
 */
export function modelEnvironment(cwd: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: cwd,
    TMPDIR: tmpdir(),
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONNOUSERSITE: '1',
  };
}

/**
 * Runs `models/<script>` with the worker's Python (predict, evaluate); fails typed with its stderr.
 * With `code`, from that pinned commit (what the training ran); without, from `projectDir`.
 */
export async function runModel(
  deps: KindDeps,
  script: string,
  args: string[],
  signal: AbortSignal,
  code?: PinnedCode,
): Promise<string> {
  const cwd = code
    ? await checkout(deps, code, signal)
    : resolve(deps.projectDir ?? join(__dirname, '..', '..'));
  try {
    const { stdout } = await execFileAsync(
      deps.python ?? defaultModelPython(),
      [join(cwd, script), ...args],
      {
        cwd,
        signal,
        env: modelEnvironment(cwd),
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return stdout;
  } catch (error) {
    if (signal.aborted) throw error;
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw failure(
      PipelineStepErrorType.MODEL_COMMAND_FAILED,
      `${script} ${args[0] ?? ''} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** The run's labels for tables it creates. */
export const runLabels = (
  execution: Pick<StepExecution, 'workflowId' | 'pipeline'> & { step: { id: string } },
) => ({
  run_id: execution.workflowId,
  pipeline: execution.pipeline,
  step: execution.step.id,
});

/**
 * Creates a production table `dataset.table` (and its dataset) with this schema when it does not exist
 * yet: the first publish of a pipeline's results (features, clusters, forecasts).
 */
export async function ensureTable(
  deps: Pick<KindDeps, 'bigquery'>,
  name: string,
  schema: { name: string; type: string }[],
): Promise<void> {
  const [datasetId = '', tableId = ''] = name.split('.');
  await deps.bigquery.dataset(datasetId).get({ autoCreate: true });
  const table = deps.bigquery.dataset(datasetId).table(tableId);
  const [exists] = await table.exists();
  if (exists) return;
  try {
    await table.create({ schema: { fields: schema } });
  } catch (error) {
    // Two steps (or items) of one run create it at once: the loser finds it there.
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

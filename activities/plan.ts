import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { customSearchAttributes } from '../config/search-attributes';
import { parameterProblems, planProblems, repoAllowed, type RunPolicy } from './run-policy';
import { buildRoot, readCodeFile, textHash } from './code-files';
import { isItemTemplate, keyedSpec, valueAt } from './plan-draft';
import { ProgramContent } from './program-files';
import { whileHeartbeating } from './heartbeat';
import { kindRegistry, type StepKindDeclaration } from './kinds/kind';
import { specProblem } from './kinds/spec-problem';
import type { PipelineRegistry } from '../pipelines/core';
import { downstreamOf, topologicalOrder } from '../pipelines/core/graph';
import { ParameterError, resolveParameters } from '../pipelines/core/params';
import { fillTemplates, parseStepReference, templateNames } from '../pipelines/core/templates';
import { MAX_MAP_ITEMS } from '../pipelines/core/limits';
import { parseListParameter, sourceParameter } from '../pipelines/core/map';
import type {
  CutoffSource,
  JsonObject,
  JsonValue,
  MapDefinition,
  PipelineDefinition,
  PlannedMap,
  Plan,
  PlannedStep,
  StepDefinition,
} from '../pipelines/core/types';
import { validatePipeline } from '../pipelines/core/validate';
import {
  DEFAULT_MAX_PARALLEL,
  DONE_STATES,
  MAX_PARALLEL_LIMIT,
  RUN_SUMMARY_MEMO,
  RunnerErrorType,
  type RunPipelineInput,
  type RunSummary,
} from '../workflows/definitions';

/** What the workflow knows when it asks for its plan. */
export interface PlanRequest extends RunPipelineInput {
  workflowId: string;
  /** ISO time the run started (workflow time). */
  startTime: string;
  /** ISO nominal time of a scheduled run (`TemporalScheduledStartTime`). */
  scheduledStartTime?: string;
}

export interface PlanDeps {
  pipelines: PipelineRegistry;
  /** The step kinds the worker serves (workers/kinds.ts): every resolved spec is checked against its kind. */
  kinds: readonly StepKindDeclaration[];
  /** The summary (memo) of an earlier run; defaults to describing it through the worker's client. */
  fetchRunSummary?: (workflowId: string) => Promise<RunSummary | undefined>;
  /** Whether the namespace knows our search attributes; defaults to asking the worker's client. */
  searchAttributesAvailable?: () => Promise<boolean>;
  /** The worker's allow-lists and cost ceiling (the worker always passes them; unit tests may not). */
  policy?: RunPolicy;
  /** Where the programs of steps that pin no repository are read (default: this build; tests: a copy). */
  buildRoot?: string;
}

const execFileAsync = promisify(execFile);
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Scratch datasets are named `smc_<pipeline>`, tables `<step>[_<output>]_<key8>`. */
export const SCRATCH_PREFIX = 'smc_';

const fail = (type: RunnerErrorType, message: string): never => {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
};

/**
 * Resolves a definition for one run: parameters, cutoff, pinned commits, cache keys, output names,
 * reused outputs, checked against the worker's run policy. Pure apart from `git ls-remote` and
 * reading an earlier run; it runs only in the worker (the `planRun` activity, for runs and for the
 * API's `planPipeline` workflow), so the API process needs no git and no credentials.
 */
export async function resolvePlan(deps: PlanDeps, request: PlanRequest): Promise<Plan> {
  const definition = deps.pipelines.get(request.pipeline);
  if (!definition) {
    return fail(
      RunnerErrorType.UnknownPipeline,
      `unknown pipeline ${request.pipeline} (known: ${[...deps.pipelines.keys()].join(', ')})`,
    );
  }
  const issues = validatePipeline(definition);
  if (issues.length > 0) {
    fail(RunnerErrorType.InvalidPipeline, issues.map((issue) => issue.message).join('; '));
  }
  let params: Plan['params'];
  try {
    params = resolveParameters(definition, request.params);
  } catch (error) {
    if (error instanceof ParameterError) return fail(RunnerErrorType.InvalidParameters, error.message);
    throw error;
  }
  const policy = deps.policy;
  if (policy) rejectProblems(parameterProblems(definition, params, policy));
  const maxParallel = resolveMaxParallel(request.maxParallel);
  const { cutoff, cutoffSource } = resolveCutoff(request);
  const builtins: Record<string, JsonValue> = { ...params, cutoff, pipeline: definition.name };
  const lookup = (name: string) => (Object.hasOwn(builtins, name) ? builtins[name] : undefined);

  const kinds = kindRegistry(deps.kinds);
  const unknownKinds = definition.steps.filter((step) => !kinds.has(step.kind));
  if (unknownKinds.length > 0) {
    fail(
      RunnerErrorType.UnknownStepKind,
      `${unknownKinds.map((step) => `step ${step.id}: unknown kind ${step.kind}`).join('; ')} (known: ${[...kinds.keys()].join(', ')})`,
    );
  }
  const reused = await reusedOutputs(deps, definition, request);
  const specProblems: string[] = [];
  const rerunSet =
    request.reuseRunId && request.from ? downstreamOf(definition.steps, request.from) : undefined;
  const steps: PlannedStep[] = [];
  const keys = new Map<string, string>();
  const programs = new ProgramContent(deps.buildRoot ?? buildRoot);
  const pins = new Map<string, Promise<string>>();
  const outputsOf = new Map<string, Record<string, string>>();
  for (const step of topologicalOrder(definition.steps)) {
    const kind = kinds.get(step.kind) as StepKindDeclaration;
    const spec = fillTemplates(step.spec, lookup);
    const repo = step.repo && {
      url: fillTemplates(step.repo.url, lookup),
      ref: fillTemplates(step.repo.ref, lookup),
    };
    // A repository or ref filled from parameters (`{{models_repo}}`, `{{models_ref}}`): a rejection
    // names the parameter first, as the caller wrote it, then the step that uses it.
    const from = step.repo && {
      url: parametersIn(definition, step.repo.url),
      ref: parametersIn(definition, step.repo.ref),
    };
    if (repo && policy && !repoAllowed(policy, repo.url)) {
      fail(
        RunnerErrorType.InvalidParameters,
        `${parameterPrefix(from?.url)}step ${step.id}: repository ${JSON.stringify(repo.url)} is not in MODELS_REPOS (the model repositories runs may use)`,
      );
    }
    // One pin per repository and ref: every step of the run sees the same commit, even when the
    // branch moves while the plan is made (and the remote is asked once).
    const commit = repo ? await pinOnce(pins, step.id, repo.url, repo.ref, from) : undefined;
    // The files and program the kind reads, from its spec with step references as placeholders (the
    // key must not depend on where upstream outputs live); the spec itself is checked further down,
    // as the handler will see it.
    // A map step's item fields are left out of it (keyedSpec), so its files and program are keyed too.
    const draft = keyedSpec(
      step.id,
      kind,
      fillTemplates(spec, (name) => (parseStepReference(name) ? 'smc_reference.ref_00000000' : undefined)),
    );
    // A file missing at the pinned commit is the ref's (or the repository's) doing when a parameter chose them.
    const origin = { repo, commit, from: [...(from?.url ?? []), ...(from?.ref ?? [])] };
    const code = draft ? await codeHashes(step.id, kind, draft, origin) : {};
    const program = draft ? await programOf(programs, step.id, kind, draft, origin) : null;
    const cacheKey = hash({
      id: step.id,
      kind: step.kind,
      kindVersion: kind.version,
      version: step.version,
      spec,
      code,
      program,
      upstream: [...step.after].sort().map((id) => [id, keys.get(id) ?? '']),
      // A rerun `from` a step computes that step and its downstream afresh even when nothing changed
      // (the seed's "clear downstream"; a retraining with the same inputs is still a new model): its
      // keys, so its output names and model versions, are its own, and the earlier run's stay intact.
      ...(rerunSet?.has(step.id) ? { rerunIn: request.workflowId } : {}),
    });
    keys.set(step.id, cacheKey);
    const outputs = outputNames(definition.name, step, cacheKey);
    const reuse = reused?.get(step.id);
    outputsOf.set(step.id, reuse?.outputs ?? outputs);
    const withReferences = fillTemplates(spec, (name) => {
      const reference = parseStepReference(name);
      return reference ? outputsOf.get(reference.step)?.[reference.output] : undefined;
    });
    const parsed = kind.spec.safeParse(withReferences);
    if (!parsed.success) {
      // A map step's `{{item}}` fields are filled per item at run time (executeStep checks them then).
      const issues = parsed.error.issues.filter((issue) => !isItemTemplate(valueAt(spec, issue.path)));
      if (issues.length > 0) specProblems.push(specProblem(step.id, { issues } as typeof parsed.error));
    }
    steps.push({
      id: step.id,
      after: [...step.after],
      kind: step.kind,
      spec: withReferences,
      version: step.version,
      runs: kind.runs,
      kindVersion: kind.version,
      ...(step.retry ? { retry: step.retry } : {}),
      cache: step.cache,
      approval: resolveApproval(step, lookup),
      onFailure: step.onFailure,
      cleanup: step.cleanup,
      timeout: step.timeout,
      ...(repo ? { repo } : {}),
      ...(commit ? { commit } : {}),
      cacheKey,
      outputs,
      ...(reuse ? { reuse } : {}),
      ...(step.map ? { map: planMap(step.id, step.map, lookup) } : {}),
      ...(step.eachBatch ? { eachBatch: true } : {}),
      ...(step.exclusive ? { exclusive: planExclusive(step.id, step.exclusive, lookup) } : {}),
    });
  }
  if (specProblems.length > 0) fail(RunnerErrorType.InvalidStepSpec, specProblems.join('; '));
  if (policy) rejectProblems(planProblems(steps, policy));
  return {
    pipeline: definition.name,
    workflowId: request.workflowId,
    params,
    cutoff,
    cutoffSource,
    steps,
    maxParallel,
    ...(request.reuseRunId && request.from
      ? { reuse: { runId: request.reuseRunId, from: request.from } }
      : {}),
    searchAttributes: deps.searchAttributesAvailable ? await deps.searchAttributesAvailable() : false,
    createdAt: request.startTime,
  };
}

function rejectProblems(problems: { message: string }[]): void {
  if (problems.length > 0)
    fail(RunnerErrorType.InvalidParameters, problems.map((problem) => problem.message).join('; '));
}

/** The plan activity; a dry run is `resolvePlan` without a workflow. */
export function createPlanActivities(deps: PlanDeps) {
  let searchAttributes: Promise<boolean> | undefined;
  return {
    /** Heartbeats while it plans (git, the warehouse): a worker that dies in it is noticed in seconds. */
    async planRun(request: PlanRequest): Promise<Plan> {
      return await whileHeartbeating(
        () =>
          resolvePlan(
            {
              fetchRunSummary: (workflowId) => fetchRunSummaryWithClient(workflowId),
              searchAttributesAvailable: () => (searchAttributes ??= searchAttributesWithClient()),
              ...deps,
            },
            request,
          ),
        { phase: 'planning' },
      );
    },
  };
}

export type PlanActivities = ReturnType<typeof createPlanActivities>;

/** A map step's plan: a literal or parameter list resolved now, an upstream step's when it starts. */
function planMap(
  stepId: string,
  map: MapDefinition,
  lookup: (name: string) => JsonValue | undefined,
): PlannedMap {
  const settings = {
    maxConcurrency: map.maxConcurrency,
    minSuccessRatio: map.minSuccessRatio,
    batchSize: map.batchSize,
  };
  if (!Array.isArray(map.forEach) && typeof map.forEach === 'object' && map.forEach !== null) {
    return { source: { step: map.forEach.step, field: map.forEach.field }, ...settings };
  }
  let items: JsonValue[];
  const parameter = sourceParameter(map.forEach);
  if (parameter) {
    try {
      items = parseListParameter(parameter, lookup(parameter));
    } catch (error) {
      return fail(RunnerErrorType.InvalidParameters, `step ${stepId}: ${(error as Error).message}`);
    }
  } else {
    items = fillTemplates(map.forEach as JsonValue[], lookup);
  }
  if (items.length > MAX_MAP_ITEMS) {
    fail(
      RunnerErrorType.InvalidParameters,
      `step ${stepId}: ${items.length} map items; at most ${MAX_MAP_ITEMS}`,
    );
  }
  return { source: { items }, ...settings };
}

/** A run's `maxParallel`: an integer 1–1000, DEFAULT_MAX_PARALLEL when not given. */
export function resolveMaxParallel(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MAX_PARALLEL;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PARALLEL_LIMIT) {
    return fail(
      RunnerErrorType.InvalidParameters,
      `maxParallel ${JSON.stringify(value)} must be an integer from 1 to ${MAX_PARALLEL_LIMIT}`,
    );
  }
  return value;
}

export function resolveCutoff(request: Pick<PlanRequest, 'cutoff' | 'scheduledStartTime' | 'startTime'>): {
  cutoff: string;
  cutoffSource: CutoffSource;
} {
  if (request.cutoff !== undefined) {
    if (!DATE.test(request.cutoff) || Number.isNaN(Date.parse(request.cutoff))) {
      fail(RunnerErrorType.InvalidParameters, `cutoff ${request.cutoff} is not a date YYYY-MM-DD`);
    }
    return { cutoff: request.cutoff, cutoffSource: 'explicit' };
  }
  if (request.scheduledStartTime) {
    return { cutoff: request.scheduledStartTime.slice(0, 10), cutoffSource: 'schedule' };
  }
  return { cutoff: request.startTime.slice(0, 10), cutoffSource: 'start' };
}

export function outputNames(
  pipeline: string,
  step: Pick<StepDefinition, 'id' | 'outputs'>,
  cacheKey: string,
) {
  const dataset = `${SCRATCH_PREFIX}${pipeline.replace(/-/g, '_')}`;
  const base = step.id.replace(/\./g, '_');
  const key8 = cacheKey.slice(0, 8);
  return Object.fromEntries(
    step.outputs.map((name) => [name, `${dataset}.${base}${name === 'table' ? '' : `_${name}`}_${key8}`]),
  );
}

function resolveApproval(step: StepDefinition, lookup: (name: string) => JsonValue | undefined): boolean {
  if (typeof step.approval === 'boolean') return step.approval;
  const value = fillTemplates(step.approval as JsonValue, lookup);
  return value === true || value === 'true';
}

/**
 * path → sha256 of the text of every file the kind reads (its SQL), at the step's pinned commit or
 * from this build: an edited query is a new key, so never a stale table.
 */
async function codeHashes(
  step: string,
  kind: StepKindDeclaration,
  spec: object,
  origin: { repo?: { url: string }; commit?: string; from?: string[] },
): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const path of kind.reads?.(spec) ?? []) {
    try {
      hashes[path] = textHash(await readCodeFile(origin, path));
    } catch (error) {
      return fail(
        RunnerErrorType.CodeFileNotFound,
        `${parameterPrefix(origin.repo && origin.from)}step ${step}: ${(error as Error).message}`,
      );
    }
  }
  return hashes;
}

/**
 * The content of the program a kind runs (its folder, the shared lib and pins), path → id: git
 * object ids at the step's pinned commit, else sha256 of this build's files; `null` for a kind that
 * runs no program (so the keys of such steps never change with models/).
 */
async function programOf(
  programs: ProgramContent,
  step: string,
  kind: StepKindDeclaration,
  spec: object,
  origin: { repo?: { url: string }; commit?: string; from?: string[] },
): Promise<JsonObject | null> {
  const files = kind.program?.(spec);
  if (files === undefined) return null;
  try {
    return await programs.ids(
      files,
      origin.repo && origin.commit
        ? { repo: origin.repo.url, commit: origin.commit }
        : { folder: files.folder },
    );
  } catch (error) {
    if (!(error instanceof ApplicationFailure)) throw error;
    // A program missing at the pinned commit is the ref's doing when a parameter chose it.
    return fail(
      (error.type as RunnerErrorType | undefined) ?? RunnerErrorType.CodeFileNotFound,
      `${parameterPrefix(origin.repo && origin.from)}step ${step}: ${error.message}`,
    );
  }
}

function hash(value: JsonValue): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** JSON with sorted keys, so equal specs hash equally whatever their key order. */
function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as JsonObject)[key] as JsonValue)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `pinCommit` once per repository and ref in one plan (a failure ends the plan at its first step). */
function pinOnce(
  pins: Map<string, Promise<string>>,
  step: string,
  url: string,
  ref: string,
  from?: { url?: string[]; ref?: string[] },
): Promise<string> {
  const key = JSON.stringify([url, ref]);
  let pin = pins.get(key);
  if (!pin) {
    pin = pinCommit(step, url, ref, from);
    pin.catch(() => undefined);
    pins.set(key, pin);
  }
  return pin;
}

/**
 * Pins a branch, tag or commit of a repository (URL or local path) to a full commit id. The `^{}`
 * pattern asks for the peeled commit of an annotated tag (plain `ref` gives the tag object).
 * `from`: the parameters the URL and the ref were filled from, named first in a rejection
 * (`parameter models_ref: step train: ref "…" is not a branch, tag or commit`).
 */
export async function pinCommit(
  step: string,
  url: string,
  ref: string,
  from: { url?: string[]; ref?: string[] } = {},
): Promise<string> {
  const urlFailure = (type: RunnerErrorType, problem: string): never =>
    fail(type, `${parameterPrefix(from.url)}step ${step}: ${problem}`);
  const refFailure = (type: RunnerErrorType, problem: string): never =>
    fail(type, `${parameterPrefix(from.ref)}step ${step}: ${problem}`);
  // Neither may become an option of git (`--upload-pack=…`), and no transport may run a command (`ext::`).
  if (url.startsWith('-') || url === '')
    urlFailure(RunnerErrorType.InvalidParameters, `repository ${JSON.stringify(url)} is not a URL or path`);
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./@{}~^-]{0,199}$/.test(ref))
    refFailure(
      RunnerErrorType.InvalidParameters,
      `ref ${JSON.stringify(ref)} is not a branch, tag or commit`,
    );
  const { stdout } = await execFileAsync(
    'git',
    [...SAFE_GIT, 'ls-remote', '--', url, ref, `${ref}^{}`],
    GIT_OPTIONS,
  ).catch(
    // git's own message can carry what the caller should not see (paths, hosts of the worker).
    () => urlFailure(RunnerErrorType.RepoRefNotFound, `cannot read repository ${url}`),
  );
  const refs = new Map(
    stdout.split('\n').flatMap((line) => {
      const [sha, name] = line.split('\t');
      return sha && name ? [[name, sha] as const] : [];
    }),
  );
  const found =
    refs.get(`refs/tags/${ref}^{}`) ??
    refs.get(`refs/tags/${ref}`) ??
    refs.get(`refs/heads/${ref}`) ??
    refs.get(ref);
  if (found) return found;
  // Abbreviated commits and expressions like HEAD~1 need the repository itself.
  if (existsSync(url)) {
    const local = await execFileAsync(
      'git',
      [...SAFE_GIT, '-C', url, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
      GIT_OPTIONS,
    ).catch(() => undefined);
    const sha = local?.stdout.trim();
    if (sha) return sha;
  }
  return refFailure(RunnerErrorType.RepoRefNotFound, `ref ${ref} not found in ${url}`);
}

/** The declared parameters a template string reads (`'{{models_ref}}'` → `['models_ref']`). */
function parametersIn(definition: PipelineDefinition, template: string): string[] {
  return [...new Set(templateNames(template).filter((name) => Object.hasOwn(definition.parameters, name)))];
}

/** `parameter models_ref: ` (or `parameters a, b: `) before a rejection caused by those parameters. */
function parameterPrefix(names: readonly string[] | undefined): string {
  const unique = [...new Set(names ?? [])];
  if (unique.length === 0) return '';
  return `${unique.length === 1 ? 'parameter' : 'parameters'} ${unique.join(', ')}: `;
}

/** git settings for user-derived repositories: no command-running transports, no prompts. */
const SAFE_GIT = [
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'protocol.fd.allow=never',
  '-c',
  'core.fsmonitor=false',
];
const GIT_OPTIONS = {
  timeout: 60_000,
  env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true' },
};

async function reusedOutputs(
  deps: PlanDeps,
  definition: PipelineDefinition,
  request: PlanRequest,
): Promise<Map<string, { runId: string; outputs: Record<string, string> }> | undefined> {
  if (!request.reuseRunId && !request.from) return undefined;
  if (!request.reuseRunId || !request.from) {
    return fail(RunnerErrorType.InvalidReuse, 'reuseRunId and from go together');
  }
  const from = request.from;
  if (!definition.steps.some((step) => step.id === from)) {
    return fail(RunnerErrorType.InvalidReuse, `from: unknown step ${from} in pipeline ${definition.name}`);
  }
  const earlier: RunSummary['steps'] | undefined = request.reuseOutputs
    ? Object.fromEntries(
        Object.entries(request.reuseOutputs).map(([id, outputs]) => [
          id,
          { state: 'succeeded', cacheKey: '', outputs },
        ]),
      )
    : (await deps.fetchRunSummary?.(request.reuseRunId))?.steps;
  if (!earlier) {
    return fail(RunnerErrorType.InvalidReuse, `run ${request.reuseRunId} has no recorded outputs to reuse`);
  }
  const rerun = downstreamOf(definition.steps, from);
  const reused = new Map<string, { runId: string; outputs: Record<string, string> }>();
  for (const step of definition.steps) {
    const before = earlier[step.id];
    if (rerun.has(step.id) || !before || !DONE_STATES.includes(before.state)) continue;
    reused.set(step.id, { runId: request.reuseRunId, outputs: before.outputs });
  }
  return reused;
}

async function fetchRunSummaryWithClient(workflowId: string): Promise<RunSummary | undefined> {
  const description = await Context.current().client.workflow.getHandle(workflowId).describe();
  return description.memo?.[RUN_SUMMARY_MEMO] as RunSummary | undefined;
}

async function searchAttributesWithClient(): Promise<boolean> {
  const { client } = Context.current();
  try {
    const response = await client.connection.operatorService.listSearchAttributes({
      namespace: client.options.namespace,
    });
    const known = Object.keys(response.customAttributes ?? {});
    return customSearchAttributes.every((key) => known.includes(key.name));
  } catch {
    return false; // the time-skipping test server has no operator service
  }
}

/** Lease names: what a workflow id may carry after `instance-lease/`, no templates left, bounded. */
const EXCLUSIVE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

/** The lease name a step holds while it runs, resolved; a name that is not one fails the plan. */
function planExclusive(
  stepId: string,
  template: string,
  lookup: (name: string) => JsonValue | undefined,
): string {
  const name = fillTemplates(template, lookup);
  if (!EXCLUSIVE_NAME.test(name)) {
    fail(
      RunnerErrorType.InvalidStepSpec,
      `step ${stepId}: exclusive resolves to ${JSON.stringify(name.slice(0, 80))}, which is not a lease name (${EXCLUSIVE_NAME})`,
    );
  }
  return name;
}

import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { RunnerErrorType } from '../../workflows/definitions';
import type { KindDeps } from './common';
import type { ProgramFiles } from './program';
import { specProblem } from './spec-problem';
import type { JsonObject, StepRuns } from '../../pipelines/core/types';
import type { StepKindHandler } from '../steps';

/**
 * A step kind as a plugin (DESIGN.md §3): the schema of its spec, how it runs, the files it reads, and
 * its handler. The plan checks every resolved spec against `spec` (so a bad spec fails when the run
 * is planned, naming the step and field) and records `runs`; the workflow dispatches on that record.
 *
 * `S` is the parsed spec the handler receives; `D` what its handler closes over (the worker's clients,
 * built once).
 */
export interface StepKind<S extends object = JsonObject, D = KindHandlerDeps> {
  name: string;
  /** Bump when the kind's logic changes: it enters the cache key of every step of the kind. */
  version: string;
  runs: StepRuns;
  /** The spec after templates are filled in. Prefer strict objects, so a misspelt field is an error. */
  spec: z.ZodType<S>;
  /**
   * Files of the step's repository the kind reads at run time (SQL), as paths from the repository's
   * root. The plan hashes their text at the step's pinned commit into its cache key.
   */
  reads?(spec: S): string[];
  /**
   * The code the kind runs as a program (model code: train, predict, evaluate), as paths of the
   * step's repository: every folder and file the program can load (`modelProgram`: the model's own
   * folder, the shared `lib/` and `requirements.txt`). Their content enters the key: git object ids
   * at the pinned commit, else sha256 of this build's files. Anything else (another model, a README,
   * an edited query) leaves the key alone.
   */
  program?(spec: S): ProgramFiles;
  /** The step's handler (for `runs.by` `activity` or `local-activity`, and `outputsExist` for any kind that can tell). */
  handler?(deps: D): StepKindHandler<S>;
}

/** What every kind handler may close over; a kind reads only what it needs. */
export type KindHandlerDeps = KindDeps;

/** Declares a step kind; only types the declaration (`defineKind({ name, spec: z.strictObject({...}), ... })`). */
export function defineKind<S extends object, D = KindHandlerDeps>(kind: StepKind<S, D>): StepKind<S, D> {
  return kind;
}

/** What the plan needs of a kind: everything but the handler (no clients). */
export type StepKindDeclaration = Omit<StepKind<object, never>, 'handler'>;

/** Any kind, whatever its spec type (methods are compared bivariantly, the schema covariantly). */
export type AnyStepKind<D = KindHandlerDeps> = StepKind<object, D>;

/** A kind with its handler bound to the worker's deps. */
export interface BoundKind {
  kind: StepKindDeclaration;
  handler?: StepKindHandler<object>;
}

/** name → declaration; two kinds with one name are a programming error. */
export function kindRegistry(
  kinds: readonly StepKindDeclaration[],
): ReadonlyMap<string, StepKindDeclaration> {
  const registry = new Map<string, StepKindDeclaration>();
  for (const kind of kinds) {
    if (registry.has(kind.name)) throw new Error(`step kind ${kind.name} is registered twice`);
    registry.set(kind.name, kind);
  }
  return registry;
}

/** Binds each kind's handler to `deps` once (the worker does this at start). */
export function bindKinds<D>(kinds: readonly AnyStepKind<D>[], deps: D): ReadonlyMap<string, BoundKind> {
  kindRegistry(kinds);
  return new Map(
    kinds.map((kind) => {
      const { handler, ...declaration } = kind;
      return [kind.name, { kind: declaration, ...(handler ? { handler: handler.call(kind, deps) } : {}) }];
    }),
  );
}

/**
 * `execution` with its spec parsed by `schema` (defaults filled, types checked), or a non-retryable
 * InvalidStepSpec failure naming the step and every bad field. The plan checked the same spec, so
 * this fails only for a plan made by another version of the kind.
 */
export function parseStepSpec<S, E extends { step: { id: string; spec: JsonObject } }>(
  schema: z.ZodType<S>,
  execution: E,
): Omit<E, 'step'> & { step: Omit<E['step'], 'spec'> & { spec: S } } {
  const parsed = schema.safeParse(execution.step.spec);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: RunnerErrorType.InvalidStepSpec,
      message: specProblem(execution.step.id, parsed.error),
      nonRetryable: true,
    });
  }
  return { ...execution, step: { ...execution.step, spec: parsed.data } } as Omit<E, 'step'> & {
    step: Omit<E['step'], 'spec'> & { spec: S };
  };
}

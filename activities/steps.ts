import { Context } from '@temporalio/activity';
import { whileHeartbeating } from './heartbeat';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonObject, JsonValue } from '../pipelines/core/types';
import { RunnerErrorType } from '../workflows/definitions';
import { parseStepSpec, type BoundKind } from './kinds/kind';

/**
 * Everything a step's handler gets (hermetic steps, DESIGN.md §3): its resolved spec, the outputs of
 * its upstream steps and the run's identity. No cutoff and no parameters: a value the step needs
 * reaches it through its spec (`{{cutoff}}`, `{{param}}`), so it is in the step's cache key.
 */
export interface StepExecution {
  /** The run's identity: its workflow id and pipeline. */
  workflowId: string;
  pipeline: string;
  step: {
    id: string;
    kind: string;
    spec: JsonObject;
    version: string;
    cacheKey: string;
    commit?: string;
    repo?: { url: string; ref: string };
  };
  /** This step's planned output names (logical → physical). */
  outputs: Record<string, string>;
  /** Outputs of the steps it runs after, by step id. */
  inputs: Record<string, Record<string, string>>;
  /** The workflow's attempt of this step (1 + retries and reruns by operators); per item in a map. */
  attempt: number;
  /** In a map step: the item this execution runs (spec and outputs are already the item's). */
  item?: { index: number; key: string; value: JsonValue };
  /** Downstream of map steps: their finished items (succeeded, cached, marked), in item order. */
  items?: Record<string, MapItemOutput[]>;
  /** An eachBatch step: which batch of its map upstream this run covers (`final` on the normal run). */
  batch?: { index: number; of: number; final: boolean };
}

export interface MapItemOutput {
  index: number;
  item: JsonValue;
  outputs: Record<string, string>;
}

/** An execution whose spec was parsed by its kind's schema. */
export type TypedExecution<S> = Omit<StepExecution, 'step'> & {
  step: Omit<StepExecution['step'], 'spec'> & { spec: S };
};

export interface StepResult {
  /** Outputs actually produced; the planned names when omitted. */
  outputs?: Record<string, string>;
  /** Small kind-specific details shown by `status` (row counts, metrics). */
  info?: Record<string, JsonValue>;
}

export interface StepHandlerContext {
  /** Aborted when the step is cancelled (rerunFrom, abortRun); long handlers should watch it. */
  signal: AbortSignal;
  heartbeat(details?: unknown): void;
}

/**
 * How one step kind runs. Handlers close over the clients they need (BigQuery, a provider), so the
 * registry is built once by the worker and tests register stand-ins of the same shape.
 */
export interface StepKindHandler<S = JsonObject> {
  run(execution: TypedExecution<S>, context: StepHandlerContext): Promise<StepResult | void>;
  /** Whether every planned output exists; without it a kind is never cached. */
  outputsExist?(execution: OutputsCheck<S>): Promise<boolean>;
}

/** What a cache check sees: the execution without upstream inputs and attempt. */
export type OutputsCheck<S = JsonObject> = Pick<
  TypedExecution<S>,
  'step' | 'outputs' | 'workflowId' | 'pipeline'
>;

/** Wall-clock beat of a running handler, so cancellation reaches it (throttled by the SDK). */
const HEARTBEAT_EVERY_MS = 1000;

/** The generic step activities: run a step of kind X, and check whether its outputs exist. */
export function createStepActivities(kinds: ReadonlyMap<string, BoundKind>) {
  /** The kind's handler and the execution with its spec parsed (defaults filled, types checked). */
  const typed = <E extends Pick<StepExecution, 'step'>>(execution: E) => {
    const bound = kinds.get(execution.step.kind);
    if (!bound?.handler) {
      throw ApplicationFailure.create({
        type: RunnerErrorType.UnknownStepKind,
        message: `no handler for step kind ${execution.step.kind} (known: ${[...kinds.keys()].join(', ')})`,
        nonRetryable: true,
      });
    }
    return { handler: bound.handler, execution: parseStepSpec(bound.kind.spec, execution) };
  };

  return {
    async executeStep(given: StepExecution): Promise<StepResult> {
      const { handler, execution } = typed(given);
      const context = Context.current();
      // A local activity (`runs: local-activity`) has no heartbeats: the workflow task carries it.
      const local = context.info.isLocal;
      if (!local) context.heartbeat();
      const beat = local ? undefined : setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        // The race ends the activity on cancellation even if a handler ignores its signal.
        const result = await Promise.race([
          handler.run(execution, { signal: context.cancellationSignal, heartbeat: context.heartbeat }),
          context.cancelled,
        ]);
        return {
          outputs: result?.outputs ?? execution.outputs,
          ...(result?.info ? { info: result.info } : {}),
        };
      } catch (error) {
        // A handler that stops on its abort signal throws its own error; report the cancellation
        // itself, so the workflow sees a cancelled step, not a failed one.
        if (context.cancellationSignal.aborted) await context.cancelled;
        throw error;
      } finally {
        clearInterval(beat);
      }
    },

    /** True or false when the kind can tell, null when it cannot (never cached, never recreated). */
    async outputsExist(given: OutputsCheck): Promise<boolean | null> {
      const { handler, execution } = typed(given);
      if (!handler.outputsExist || Object.keys(execution.outputs).length === 0) return null;
      const check = handler.outputsExist;
      return await whileHeartbeating(() => check(execution));
    },
  };
}

export type StepActivities = ReturnType<typeof createStepActivities>;

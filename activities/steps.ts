import { Context } from '@temporalio/activity';
import { whileHeartbeating } from './heartbeat';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonObject, JsonPrimitive, JsonValue } from '../pipelines/core/types';
import { RunnerErrorType } from '../workflows/definitions';

/** Everything a step's handler gets: the planned step, its run, and the outputs of its upstream steps. */
export interface StepExecution {
  workflowId: string;
  pipeline: string;
  cutoff: string;
  params: Record<string, JsonPrimitive>;
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
export interface StepKindHandler {
  run(execution: StepExecution, context: StepHandlerContext): Promise<StepResult | void>;
  /** Whether every planned output exists; without it a kind is never cached. */
  outputsExist?(
    execution: Pick<StepExecution, 'step' | 'outputs' | 'workflowId' | 'pipeline'>,
  ): Promise<boolean>;
}

export type StepHandlers = Record<string, StepKindHandler>;

/** Wall-clock beat of a running handler, so cancellation reaches it (throttled by the SDK). */
const HEARTBEAT_EVERY_MS = 1000;

/** Handlers that need no outside system: `echo` (demos) returns its planned outputs. */
export const builtinStepHandlers: StepHandlers = {
  echo: {
    async run(execution) {
      const message = execution.step.spec.message;
      return { outputs: execution.outputs, info: { message: typeof message === 'string' ? message : null } };
    },
  },
};

/** The generic step activities: run a step of kind X, and check whether its outputs exist. */
export function createStepActivities(handlers: StepHandlers) {
  const handlerFor = (kind: string): StepKindHandler => {
    const handler = handlers[kind];
    if (!handler) {
      throw ApplicationFailure.create({
        type: RunnerErrorType.UnknownStepKind,
        message: `no handler for step kind ${kind} (known: ${Object.keys(handlers).join(', ')})`,
        nonRetryable: true,
      });
    }
    return handler;
  };

  return {
    async executeStep(execution: StepExecution): Promise<StepResult> {
      const handler = handlerFor(execution.step.kind);
      const context = Context.current();
      context.heartbeat();
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
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
    async outputsExist(
      execution: Pick<StepExecution, 'step' | 'outputs' | 'workflowId' | 'pipeline'>,
    ): Promise<boolean | null> {
      const handler = handlerFor(execution.step.kind);
      if (!handler.outputsExist || Object.keys(execution.outputs).length === 0) return null;
      const check = handler.outputsExist;
      return await whileHeartbeating(() => check(execution));
    },
  };
}

export type StepActivities = ReturnType<typeof createStepActivities>;

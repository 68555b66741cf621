import { param, type StepOptions } from './builder';
import type { JsonObject, JsonValue, MapOptions, OnFailure, ParameterDefinition } from './types';

/**
 * Definition blocks the pipelines with model code share: the repository of their model programs
 * (pinned to a commit per run) and the train → evaluate → promote steps over the generic kinds.
 * Pure data, like the rest of pipelines/core: each helper returns what a pipeline would write out.
 */

/** A step's repository: the run's `models_repo` at `models_ref` (pinned when the run is planned). */
export const modelsRepo = { url: '{{models_repo}}', ref: '{{models_ref}}' };

/** The `models_repo` / `models_ref` parameters that `modelsRepo` reads. */
export function modelsRepoParams(
  description = 'git repository holding models/',
  extra: Omit<ParameterDefinition, 'type' | 'default' | 'description'> = {},
): Record<'models_repo' | 'models_ref', ParameterDefinition> {
  return {
    models_repo: param.string({ default: '.', ...extra, description }),
    models_ref: param.string({ default: 'HEAD' }),
  };
}

export interface TrainStepOptions {
  after: string[];
  /** Registry model name. */
  model: string;
  /** The training program, from the repository's root. */
  script: string;
  /** The training data (`'{{steps.<data>.table}}'`, `'{{item.table}}'`). */
  data: string;
  /** Names the model's registry version (`<cutoff>-<key8>`), when set. */
  cutoff?: string;
  vm: JsonObject;
  env: JsonObject;
  maxDuration: string;
  policy?: JsonObject;
  monitor: JsonObject;
  onFailure?: OnFailure;
  map?: MapOptions;
}

/** A `train` step (trainOnVm) at the run's pinned models repository; its output is the `model`, cached. */
export function trainStep(options: TrainStepOptions): StepOptions {
  const { after, model, script, data, cutoff, vm, env, maxDuration, policy, monitor } = options;
  return {
    kind: 'train',
    after,
    spec: {
      model,
      script,
      data,
      ...(cutoff === undefined ? {} : { cutoff }),
      vm,
      env,
      maxDuration,
      ...(policy ? { policy } : {}),
      monitor,
    },
    repo: modelsRepo,
    outputs: ['model'],
    cache: true,
    ...(options.onFailure ? { onFailure: options.onFailure } : {}),
    ...(options.map ? { map: options.map } : {}),
  };
}

export interface EvaluateStepOptions {
  after: string[];
  model: string;
  /** The program that scores both models (the training's). */
  script: string;
  /** The new model (default: the `train` step's). */
  artifact?: string;
  /** The rows both models are scored on. */
  data: string;
  /** Promote when the new model's error ≤ (1 + margin) × production's (a parameter template). */
  margin: JsonValue;
}

/**
 * An `evaluate` step: the new model and the registry's `production` one scored by the same program on
 * the same rows; its `decision` is what `promoteStep` acts on.
 */
export function evaluateStep(options: EvaluateStepOptions): StepOptions {
  return {
    kind: 'evaluate',
    after: options.after,
    spec: {
      models: [
        {
          model: options.model,
          script: options.script,
          artifact: options.artifact ?? '{{steps.train.model}}',
          data: options.data,
          margin: options.margin,
        },
      ],
    },
    repo: modelsRepo,
    outputs: ['decision'],
    cache: true,
  };
}

/** A `promote` step: the evaluated model filed in the registry, and `production` moved when it won. */
export function promoteStep(options: {
  after: string[];
  model: string;
  decision?: string;
  artifact?: string;
}): StepOptions {
  return {
    kind: 'promote',
    after: options.after,
    spec: {
      decision: options.decision ?? '{{steps.evaluate.decision}}',
      models: [{ model: options.model, artifact: options.artifact ?? '{{steps.train.model}}' }],
      tables: [],
    },
    outputs: ['record'],
    cache: true,
  };
}

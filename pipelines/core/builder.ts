import { assertValidPipeline } from './validate';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAP_CONCURRENCY } from './limits';
import type {
  JsonObject,
  MapOptions,
  OnFailure,
  ParameterDefinition,
  PipelineDefinition,
  StepDefinition,
  StepRepo,
  StepRetryPolicy,
} from './types';

/** What a pipeline author writes for a step; everything but `kind` has a default. */
export interface StepOptions {
  kind: string;
  after?: string[];
  spec?: JsonObject;
  version?: string;
  retry?: StepRetryPolicy;
  cache?: boolean;
  approval?: boolean | string;
  onFailure?: OnFailure;
  outputs?: string[];
  repo?: StepRepo;
  cleanup?: boolean;
  timeout?: string;
  description?: string;
  /** Makes this a map step (docs/map-steps.md). */
  map?: MapOptions;
  /** Also run after each finished batch of the (one) map step in `after`. */
  eachBatch?: boolean;
  /** Held alone across runs while the step runs (a lease name; templates allowed). */
  exclusive?: string;
}

/** Typed parameter declarations: `param.string({ default: 'eu' })`, `param.date()`. */
export const param = {
  string: (options: Omit<ParameterDefinition, 'type'> & { default?: string } = {}) =>
    declare('string', options),
  number: (options: Omit<ParameterDefinition, 'type'> & { default?: number } = {}) =>
    declare('number', options),
  boolean: (options: Omit<ParameterDefinition, 'type'> & { default?: boolean } = {}) =>
    declare('boolean', options),
  date: (options: Omit<ParameterDefinition, 'type'> & { default?: string } = {}) => declare('date', options),
  /** A Temporal duration (`'12 hours'`); a malformed one fails the plan naming the parameter. */
  duration: (options: Omit<ParameterDefinition, 'type'> & { default?: string } = {}) =>
    declare('duration', options),
};

function declare(
  type: ParameterDefinition['type'],
  options: Omit<ParameterDefinition, 'type'>,
): ParameterDefinition {
  return { type, ...options };
}

/** Default activity timeout of a step; long steps (training) set their own. */
export const DEFAULT_STEP_TIMEOUT = '1 hour';

export function stepDefinition(id: string, options: StepOptions): StepDefinition {
  return {
    id,
    after: options.after ?? [],
    kind: options.kind,
    spec: options.spec ?? {},
    version: options.version ?? '1',
    ...(options.retry ? { retry: options.retry } : {}),
    cache: options.cache ?? false,
    approval: options.approval ?? false,
    onFailure: options.onFailure ?? 'fail',
    outputs: options.outputs ?? [],
    ...(options.repo ? { repo: options.repo } : {}),
    cleanup: options.cleanup ?? options.kind === 'cleanup',
    timeout: options.timeout ?? DEFAULT_STEP_TIMEOUT,
    ...(options.description ? { description: options.description } : {}),
    ...(options.map
      ? {
          map: {
            forEach: options.map.forEach,
            maxConcurrency: options.map.maxConcurrency ?? DEFAULT_MAP_CONCURRENCY,
            minSuccessRatio: options.map.minSuccessRatio ?? 1,
            batchSize: options.map.batchSize ?? DEFAULT_BATCH_SIZE,
          },
        }
      : {}),
    ...(options.eachBatch ? { eachBatch: true } : {}),
    ...(options.exclusive ? { exclusive: options.exclusive } : {}),
  };
}

/**
 * Builds a pipeline definition step by step; `build()` validates it and throws a
 * PipelineValidationError naming every bad step or parameter.
 *
 * ```ts
 * definePipeline('demo', { parameters: { region: param.string({ default: 'eu' }) } })
 *   .step('prepare', { kind: 'sql', spec: { query: 'SELECT "{{region}}"' }, outputs: ['table'] })
 *   .step('model.train', { kind: 'train', after: ['prepare'] })
 *   .build();
 * ```
 */
export class PipelineBuilder {
  private readonly steps: StepDefinition[] = [];

  constructor(
    private readonly name: string,
    private readonly options: { description?: string; parameters?: Record<string, ParameterDefinition> } = {},
  ) {}

  step(id: string, options: StepOptions): this {
    this.steps.push(stepDefinition(id, options));
    return this;
  }

  /** The definition without validation (for tests of the validator). */
  draft(): PipelineDefinition {
    return {
      name: this.name,
      ...(this.options.description ? { description: this.options.description } : {}),
      parameters: { ...(this.options.parameters ?? {}) },
      steps: [...this.steps],
    };
  }

  build(): PipelineDefinition {
    return assertValidPipeline(this.draft());
  }
}

export function definePipeline(
  name: string,
  options: { description?: string; parameters?: Record<string, ParameterDefinition> } = {},
): PipelineBuilder {
  return new PipelineBuilder(name, options);
}

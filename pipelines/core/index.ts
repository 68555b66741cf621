import type { PipelineDefinition } from './types';

export type PipelineRegistry = ReadonlyMap<string, PipelineDefinition>;

/** A name → definition map; two definitions with one name are a programming error. */
export function createPipelineRegistry(definitions: PipelineDefinition[]): PipelineRegistry {
  const registry = new Map<string, PipelineDefinition>();
  for (const definition of definitions) {
    if (registry.has(definition.name)) throw new Error(`pipeline ${definition.name} is registered twice`);
    registry.set(definition.name, definition);
  }
  return registry;
}

export * from './builder';
export * from './dates';
export * from './params';
export * from './types';
export {
  PipelineValidationError,
  validatePipeline,
  assertValidPipeline,
  type PipelineIssue,
} from './validate';

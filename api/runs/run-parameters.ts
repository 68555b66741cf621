import { BadRequestException, ForbiddenException } from '@nestjs/common';
import { ParameterError, resolveParameters, type PipelineRegistry } from '../../pipelines';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { hasRole, type Actor } from '../auth/roles';

/**
 * A run's pipeline and parameters as the API can check them without the worker: a known pipeline,
 * declared and well-typed parameters, and privileged ones (they weaken a safety check, e.g.
 * `require_approval`, `<model>_margin`) set only by an admin. Resources are the worker's plan's
 * to check (allow-lists in its config).
 */
export function checkRunParameters(
  pipelines: PipelineRegistry,
  pipeline: string,
  params: Record<string, unknown> | undefined,
  actor: Actor,
): PipelineDefinition {
  const definition = pipelines.get(pipeline);
  if (!definition) {
    throw new BadRequestException(
      `pipeline: unknown pipeline ${pipeline}; known: ${[...pipelines.keys()].join(', ')}`,
    );
  }
  // JSON types as the OpenAPI document states them: the coercions of resolveParameters (a CLI's
  // strings) do not apply to JSON bodies, so `"3"` is no number and `null` no default.
  for (const [name, value] of Object.entries(params ?? {})) {
    const declared = Object.hasOwn(definition.parameters, name) ? definition.parameters[name] : undefined;
    if (!declared) continue; // resolveParameters names unknown ones
    const json = declared.type === 'number' || declared.type === 'boolean' ? declared.type : 'string';
    if (typeof value !== json || (json === 'number' && !Number.isFinite(value)))
      throw new BadRequestException(`params.${name}: must be a ${json} (${declared.type} parameter)`);
  }
  try {
    resolveParameters(definition, params ?? {});
  } catch (error) {
    if (error instanceof ParameterError) throw new BadRequestException(`params: ${error.message}`);
    throw error;
  }
  if (!hasRole(actor.role, 'admin')) {
    const privileged = Object.keys(params ?? {}).filter(
      (name) => definition.parameters[name]?.privileged === true,
    );
    if (privileged.length > 0) {
      throw new ForbiddenException(
        `params.${privileged[0]}: setting ${privileged.join(', ')} needs the admin role (token ${actor.name} is ${actor.role})`,
      );
    }
  }
  return definition;
}

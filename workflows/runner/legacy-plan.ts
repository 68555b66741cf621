import type { JsonObject, PlannedStep } from '../../pipelines/core/types';

/**
 * The spec of a step from a plan recorded before steps were hermetic (no `runs` in the plan): then
 * `sql` queries got `@cutoff` and trainings and gap fills read the run's cutoff implicitly. Runs
 * started then and still in flight get it in their spec, where today's handlers look for it.
 */
export function legacySpec(step: Pick<PlannedStep, 'kind' | 'spec'>, cutoff: string): JsonObject {
  const spec = step.spec;
  switch (step.kind) {
    case 'sql': {
      const params =
        spec.params && typeof spec.params === 'object' && !Array.isArray(spec.params) ? spec.params : {};
      return { ...spec, params: { cutoff, ...params } };
    }
    case 'train':
    case 'gapfill':
      return { cutoff, ...spec };
    default:
      return spec;
  }
}

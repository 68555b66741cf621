import { z } from 'zod';
import { bindKinds, defineKind, type AnyStepKind } from '../../activities/kinds/kind';
import type { StepKindHandler } from '../../activities/steps';
import type { StepRuns } from '../../pipelines/core/types';

/**
 * A stand-in step kind for tests of the runner and the plan: any spec, the given handler (none: the
 * plan and the runner only need the declaration), running as `runs` says.
 */
export function looseKind(
  name: string,
  handler?: StepKindHandler,
  runs: StepRuns = { by: 'activity' },
): AnyStepKind<unknown> {
  return defineKind<Record<string, unknown>, unknown>({
    name,
    version: '1',
    runs,
    spec: z.looseObject({}),
    ...(handler ? { handler: () => handler as StepKindHandler<Record<string, unknown>> } : {}),
  });
}

/** Kinds bound as the worker binds them; stand-ins need no deps. */
export const bound = (...kinds: AnyStepKind<never>[]) => bindKinds<never>(kinds, undefined as never);

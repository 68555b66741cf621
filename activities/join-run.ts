import { Context } from '@temporalio/activity';
import { joinOrStartRun, type JoinRunInput, type JoinRunResult } from '../clients/join-run';
import type { DailyRunTrigger } from '../pipelines/core/triggers';

export { joinOrStartRun, type JoinRunInput, type JoinRunResult };

/**
 * The activity of the `joinDailyRun` workflow (a schedule's action): the worker's own client and queue.
 * With `triggers` (the catalog's daily pipelines), the step a running run redoes is the pipeline's
 * current one, not the one recorded in the schedule when it was created: a schedule made before the
 * pipeline's DAG changed (sensor-clustering's `features` before the `sensors` listing) keeps working.
 */
export function createJoinRunActivities(triggers?: ReadonlyMap<string, DailyRunTrigger>) {
  return {
    async joinOrStartRun(input: Omit<JoinRunInput, 'taskQueue'>): Promise<JoinRunResult> {
      const context = Context.current();
      const rerunFrom = triggers?.get(input.pipeline)?.rerunFrom ?? input.rerunFrom;
      return await joinOrStartRun(context.client, { ...input, rerunFrom, taskQueue: context.info.taskQueue });
    },
  };
}

export type JoinRunActivities = ReturnType<typeof createJoinRunActivities>;

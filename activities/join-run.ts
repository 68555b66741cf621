import { Context } from '@temporalio/activity';
import { joinOrStartRun, type JoinRunInput, type JoinRunResult } from '../clients/join-run';

export { joinOrStartRun, type JoinRunInput, type JoinRunResult };

/** The activity of the `joinDailyRun` workflow (a schedule's action): the worker's own client and queue. */
export function createJoinRunActivities() {
  return {
    async joinOrStartRun(input: Omit<JoinRunInput, 'taskQueue'>): Promise<JoinRunResult> {
      const context = Context.current();
      return await joinOrStartRun(context.client, { ...input, taskQueue: context.info.taskQueue });
    },
  };
}

export type JoinRunActivities = ReturnType<typeof createJoinRunActivities>;

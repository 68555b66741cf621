import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { instanceLease } from '../workflows/instance-lease';
import {
  acquireLeaseSignal,
  leaseWorkflowId,
  releaseLeaseSignal,
  type LeaseRequest,
} from '../workflows/lease-definitions';

/**
 * The requester's side of an instance lease (workflows/instance-lease.ts). Workflows cannot
 * signal-with-start, so these activities do it with the worker's client; the lease workflow runs on
 * the requesting worker's task queue.
 */
export function createLeaseActivities() {
  return {
    /** Asks for the instance (or renews a held lease); the answer comes as a `leaseUpdate` signal. */
    async requestInstanceLease(input: { instance: string; request: LeaseRequest }): Promise<void> {
      const { client, info } = Context.current();
      await client.workflow.signalWithStart(instanceLease, {
        workflowId: leaseWorkflowId(input.instance),
        taskQueue: info.taskQueue,
        args: [{ instance: input.instance }],
        signal: acquireLeaseSignal,
        signalArgs: [input.request],
        staticSummary: `lease of ${input.instance}`,
      });
    },

    /** Gives the instance back (or leaves the queue); a lease that has already ended is fine. */
    async releaseInstanceLease(input: { instance: string; holder: string }): Promise<void> {
      try {
        await Context.current()
          .client.workflow.getHandle(leaseWorkflowId(input.instance))
          .signal(releaseLeaseSignal, { holder: input.holder });
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return;
        throw error;
      }
    },
  };
}

export type LeaseActivities = ReturnType<typeof createLeaseActivities>;

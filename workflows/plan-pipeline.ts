import { proxyActivities } from '@temporalio/workflow';
import type { PlanActivities, PlanRequest } from '../activities/plan';
import type { Plan } from '../pipelines/core/types';
import { RunnerErrorType } from './definitions';

// The API waits API_PLAN_TIMEOUT_SECONDS for this: a worker that dies in the (heartbeating) plan is
// noticed in 20 s and the plan retried on another, within that wait.
const { planRun } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: Object.values(RunnerErrorType) },
});

/**
 * The plan of a run without the run: the API's dry run and its checks before a start or a schedule
 * change. The plan activity runs in the worker, which holds git, the warehouse client, credentials
 * and the run policy; the API process needs none of them.
 */
export async function planPipeline(request: PlanRequest): Promise<Plan> {
  return await planRun(request);
}

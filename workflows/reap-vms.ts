import { isCancellation, log, metricMeter, proxyActivities } from '@temporalio/workflow';
import type { ReapDecision, ReaperActivities } from '../activities/reaper';
import type { VmActivities } from '../activities/vm';

export interface ReapVmsInput {
  /** Decide and report, change nothing. */
  dryRun?: boolean;
}

export interface ReapVmsResult {
  dryRun: boolean;
  /** VMs Retrainer labelled that were looked at. */
  checked: number;
  deleted: string[];
  stopped: string[];
  /** Actions that failed (after the activity's retries); the next reaper run tries again. */
  failed: { vmName: string; action: 'delete' | 'stop'; error: string }[];
  decisions: ReapDecision[];
}

const { findVmsToReap } = proxyActivities<ReaperActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});
const { deleteVm, stopVm } = proxyActivities<VmActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/**
 * The VM reaper (started every 15 minutes by the `retrainer-vm-reaper` schedule): deletes ephemeral
 * VMs whose training is closed or unknown to Temporal, stops persistent ones left running with no
 * live training, and reports what it did. A dry run only reports.
 */
export async function reapVms(input: ReapVmsInput = {}): Promise<ReapVmsResult> {
  const dryRun = input.dryRun === true;
  const actions = metricMeter.createCounter(
    'retrainer_reaper_actions',
    'VMs the reaper deleted or stopped (dry_run=true: would have)',
  );
  const decisions = await findVmsToReap();
  const result: ReapVmsResult = {
    dryRun,
    checked: decisions.length,
    deleted: [],
    stopped: [],
    failed: [],
    decisions,
  };
  for (const decision of decisions) {
    if (decision.action === 'keep') continue;
    const action = decision.action;
    log.info(`reaper: ${dryRun ? 'would ' : ''}${action} ${decision.vmName}`, { reason: decision.reason });
    actions.add(1, { action, dry_run: String(dryRun) });
    if (dryRun) continue;
    try {
      if (action === 'delete') {
        await deleteVm(decision.vmName);
        result.deleted.push(decision.vmName);
      } else {
        await stopVm(decision.vmName);
        result.stopped.push(decision.vmName);
      }
    } catch (error) {
      if (isCancellation(error)) throw error;
      const message =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      log.warn(`reaper: ${action} ${decision.vmName} failed`, { error: message });
      actions.add(1, { action: `${action}-failed`, dry_run: 'false' });
      result.failed.push({ vmName: decision.vmName, action, error: message });
    }
  }
  return result;
}

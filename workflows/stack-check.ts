import { proxyActivities, log } from '@temporalio/workflow';
import type { StackCheckActivities } from '../activities/stack-check';

export interface StackCheckInput {
  dataset: string;
  /** Skip the VM round trip (a worker without a VM). */
  withVm: boolean;
}

export interface StackCheckResult {
  warehouse: { rows: number; total: number };
  vmOutput: string | undefined;
}

const { warehouseRoundTrip, remoteTmuxRoundTrip } = proxyActivities<StackCheckActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** The smallest workflow that exercises the whole local stack: warehouse, then a VM over SSH + tmux. */
export async function stackCheck(input: StackCheckInput): Promise<StackCheckResult> {
  const warehouse = await warehouseRoundTrip({ dataset: input.dataset, table: 'visits' });
  log.info('warehouse round trip done', warehouse);
  const vm = input.withVm ? await remoteTmuxRoundTrip({ session: `check-${input.dataset}` }) : undefined;
  return { warehouse, vmOutput: vm?.output };
}

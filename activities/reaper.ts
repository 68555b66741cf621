import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { toLabelValue } from './providers/naming';
import type { VmInfo, VmProvider } from './providers/types';
import { ownerOf, OWNER_PARTS_LABEL } from '../workflows/vm-labels';

/** Whether the workflow that uses a VM is still open, as Temporal tells it. */
export type OwnerState = 'running' | 'closed' | 'unknown';

export type ReapAction = 'delete' | 'stop' | 'keep';

/** The reaper's verdict on one VM. */
export interface ReapDecision {
  vmName: string;
  status: VmInfo['status'];
  persistent: boolean;
  /** The workflow id on the VM's owner labels, or the run label of a VM labelled before them. */
  owner?: string;
  ownerState: OwnerState;
  /** Temporal's status of the owner (`RUNNING`, `COMPLETED`, `TERMINATED`, …) when it exists. */
  ownerStatus?: string;
  action: ReapAction;
  reason: string;
}

export interface ReaperDeps {
  provider: VmProvider;
  /** A Temporal client of the namespace the trainings run in (made lazily by the worker). */
  client: () => Promise<Client>;
}

/** VMs Retrainer labelled: those naming their owner workflow, and older ones with a run label. */
export const isRetrainerVm = (vm: VmInfo): boolean =>
  vm.labels[OWNER_PARTS_LABEL] !== undefined || vm.labels.run_id !== undefined;

const RUNNING_STATES: readonly VmInfo['status'][] = ['PROVISIONING', 'STAGING', 'RUNNING'];

/**
 * What to do with a VM: an ephemeral VM whose training is closed or unknown is deleted; a
 * persistent one is stopped when it runs with no live training (it keeps its disk); everything else
 * is kept. Pure, so the rules are tested on their own.
 */
export function decide(vm: VmInfo, owner: { id?: string; state: OwnerState; status?: string }): ReapDecision {
  const persistent = vm.persistent === true || vm.labels.persistent === 'true';
  const base = {
    vmName: vm.name,
    status: vm.status,
    persistent,
    ...(owner.id !== undefined ? { owner: owner.id } : {}),
    ownerState: owner.state,
    ...(owner.status ? { ownerStatus: owner.status } : {}),
  };
  const whose = owner.id ? `workflow ${owner.id}` : 'no owner label';
  if (owner.state === 'running') return { ...base, action: 'keep', reason: `${whose} is running` };
  const gone = owner.state === 'closed' ? `${whose} is ${owner.status ?? 'closed'}` : `${whose} is unknown`;
  if (persistent) {
    if (RUNNING_STATES.includes(vm.status))
      return { ...base, action: 'stop', reason: `persistent and idle: ${gone}` };
    return { ...base, action: 'keep', reason: `persistent and already ${vm.status}` };
  }
  if (vm.status === 'NOT_FOUND') return { ...base, action: 'keep', reason: 'already deleted' };
  return { ...base, action: 'delete', reason: `orphaned: ${gone}` };
}

/**
 * The reaper's look-up: lists the VMs Retrainer labelled and asks Temporal about each one's owner
 * (a describe of the workflow id on its labels; a VM labelled before owner labels existed is matched
 * by its `run_id` label against the open runs). Decides, acts on nothing: the `reapVms` workflow
 * deletes and stops through the VM activities, each one recorded in its history.
 */
export function createReaperActivities(deps: ReaperDeps) {
  return {
    async findVmsToReap(): Promise<ReapDecision[]> {
      const client = await deps.client();
      const vms = (await deps.provider.list()).filter(isRetrainerVm);
      let openRuns: Set<string> | undefined;
      const decisions: ReapDecision[] = [];
      for (const vm of vms) {
        Context.current().heartbeat({ checked: decisions.length, of: vms.length });
        const ownerId = ownerOf(vm.labels);
        if (ownerId !== undefined) {
          try {
            const description = await client.workflow.getHandle(ownerId).describe();
            const status = description.status.name;
            decisions.push(
              decide(vm, { id: ownerId, state: status === 'RUNNING' ? 'running' : 'closed', status }),
            );
          } catch (error) {
            // Any other error (Temporal unreachable) fails the activity: never delete on a guess.
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            decisions.push(decide(vm, { id: ownerId, state: 'unknown' }));
          }
          continue;
        }
        openRuns ??= await openRunLabels(client);
        const run = vm.labels.run_id as string;
        decisions.push(decide(vm, { id: run, state: openRuns.has(run) ? 'running' : 'unknown' }));
      }
      return decisions;
    },
  };
}

/** Run labels (`toLabelValue(workflowId)`) of every open pipeline run. */
async function openRunLabels(client: Client): Promise<Set<string>> {
  const labels = new Set<string>();
  for await (const execution of client.workflow.list({
    query: `WorkflowType = 'runPipeline' AND ExecutionStatus = 'Running'`,
  })) {
    labels.add(toLabelValue(execution.workflowId));
  }
  return labels;
}

export type ReaperActivities = ReturnType<typeof createReaperActivities>;

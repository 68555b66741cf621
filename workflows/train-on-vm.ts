import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { TrainingActivities } from '../activities/training';
import { InstanceLeaseHolder } from './lease-holder';
import { closeInterval, estimateCost, openInterval, type VmUsage } from './cost';
import { recordVmUsage } from './metrics';
import { ownerLabels } from './vm-labels';
import {
  TrainingErrorType,
  trainingProgressQuery,
  type CheckpointRef,
  type MonitorResult,
  type MonitorTiming,
  type TrainOnVmInput,
  type TrainOnVmResult,
  type TrainingAttempt,
  type TrainingProgress,
  type TrainingStatus,
} from './training-types';

/** Production timing: a poll every 15 s, heartbeat timeout 90 s, give up on SSH after 15 min. */
const DEFAULT_TIMING: Required<MonitorTiming> = {
  heartbeatTimeout: '90 seconds',
  pollInterval: '15 seconds',
  providerCheckAfter: '2 minutes',
  unreachableLimit: '15 minutes',
  maxReconnectBackoff: '30 seconds',
};
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/**
 * The short VM activities (provision, upload, launch, kill, collect, teardown). They heartbeat while
 * they work, so a worker that dies in one is noticed after the heartbeat timeout (as for the monitor,
 * but never under 10 s: they may block briefly on local I/O), not after 30 minutes.
 */
const vmActivities = (timing: Required<MonitorTiming>) =>
  proxyActivities<TrainingActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: Math.max(msToNumber(timing.heartbeatTimeout), 10_000),
    retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10 },
  });
/**
 * Teardown never gives up: a VM left running costs money until someone notices. Retries back off to
 * every 5 minutes (no maximumAttempts: unlimited); a non-retryable failure (an invalid name) ends it.
 */
const teardownActivities = (timing: Required<MonitorTiming>) =>
  proxyActivities<TrainingActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: Math.max(msToNumber(timing.heartbeatTimeout), 10_000),
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes' },
  });
/** The wait for SSH heartbeats every second; it runs on the monitors' task queue when there is one. */
const sshWaitActivities = (input: TrainOnVmInput) =>
  proxyActivities<TrainingActivities>({
    startToCloseTimeout: '20 minutes',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
    ...(input.monitorTaskQueue ? { taskQueue: input.monitorTaskQueue } : {}),
  });
const { judgeTraining } = proxyLocalActivities<TrainingActivities>({ startToCloseTimeout: '1 minute' });

/**
 * One training step on a VM: provision → wait for SSH → upload → launch → monitor → judge → collect,
 * with retries from the latest checkpoint as the policy allows, and teardown of every VM it used in
 * a non-cancellable scope (after killing the remote process group) on success, failure and cancel.
 * History does not grow with the training's duration: progress lives in the monitor's heartbeats.
 */
export async function trainOnVm(input: TrainOnVmInput): Promise<TrainOnVmResult> {
  if (!ID_PATTERN.test(input.trainingId)) {
    throw ApplicationFailure.create({
      type: TrainingErrorType.INVALID_INPUT,
      message: `trainingId ${JSON.stringify(input.trainingId)} must match ${ID_PATTERN}`,
      nonRetryable: true,
    });
  }
  const timing = { ...DEFAULT_TIMING, ...input.monitor };
  const acts = vmActivities(timing);
  const teardownActs = teardownActivities(timing);
  const sshWait = sshWaitActivities(input);
  const policy = input.policy ?? {};
  const persistent = input.vm.persistent === true;
  const progress: TrainingProgress = { phase: 'provisioning', attempt: 0, elapsedMs: 0 };
  // One training at a time on a persistent instance, across runs: hold its lease from before the
  // first start until after the last stop. It expires after every attempt's maximum plus an hour,
  // should this workflow die without its teardown.
  const lease =
    persistent && patched('instance-lease')
      ? new InstanceLeaseHolder(
          input.vm.name,
          (Math.max(0, policy.maxRetries ?? 0) + 1) * msToNumber(input.maxDuration) + 3_600_000,
        )
      : undefined;
  // Each VM's running intervals (workflow time), for VM hours and cost; shown live by the query.
  const vms: VmUsage[] = [];
  setHandler(trainingProgressQuery, () => ({ ...progress, vms }));
  // The VM carries its owner's workflow id, so the reaper can ask whether the training still runs.
  const labels = { ...input.vm.labels, ...ownerLabels(workflowInfo().workflowId) };

  const liveVms = new Set<string>();
  let alive: { vmName: string; runId: string } | undefined;
  const attempts: TrainingAttempt[] = [];
  let trainingMs = 0;
  let vmName = input.vm.name;
  let needVm = true;
  // An operator's retry of the step starts from the checkpoint of its earlier attempt (a field of the
  // input, recorded in history: runs started before it never see it, so no patch is needed).
  let resumeFrom: CheckpointRef | undefined = input.resumeFrom;
  let resumeOnSameVm = false;

  const teardown = async (name: string) => {
    const { teardownTrainingVm } = patched('teardown-retries-forever') ? teardownActs : acts;
    await teardownTrainingVm({ vmName: name, persistent });
    closeInterval(vms, name, new Date().toISOString());
    liveVms.delete(name);
  };
  const usage = () => ({ vms, cost: estimateCost(vms, Date.now()) });

  try {
    if (lease) {
      progress.phase = 'waiting-for-instance';
      await lease.acquire((note) => {
        if (note) progress.waitingFor = note;
        else delete progress.waitingFor;
      });
    }
    for (let attempt = 0; ; attempt++) {
      const runId = attempt === 0 ? input.trainingId : `${input.trainingId}-r${attempt}`;
      Object.assign(progress, { attempt, runId, vmName, monitorActivityId: undefined });
      if (needVm) {
        progress.phase = 'provisioning';
        liveVms.add(vmName);
        openInterval(vms, { ...input.vm, name: vmName }, new Date().toISOString());
        await acts.provisionTrainingVm({ ...input.vm, name: vmName, labels });
        progress.phase = 'connecting';
        await sshWait.waitForTrainingSsh({ vmName, timeoutMs: 10 * 60_000 });
        needVm = false;
      }
      progress.phase = 'uploading';
      await acts.uploadTrainingRun({
        vmName,
        runId,
        code: input.code,
        inputs: input.inputs,
        command: input.command,
        env: input.env,
        resumeFrom,
        resumeOnSameVm,
      });
      progress.phase = 'launching';
      alive = { vmName, runId };
      const launch = await acts.launchTraining({ vmName, runId });
      log.info('training launched', { runId, vmName, state: launch.state });

      progress.phase = 'training';
      progress.monitorActivityId = `monitor-${runId}`;
      const result = await monitor(input, timing, vmName, runId);
      if (result.kind === 'exited' || result.kind === 'vanished') alive = undefined;
      trainingMs += result.progress.elapsedMs;
      Object.assign(progress, {
        phase: 'judging',
        lastMetric: result.progress.lastMetric,
        elapsedMs: trainingMs,
      });
      // A retry that crashed before its first checkpoint still has the one it resumed from.
      const checkpoint = result.progress.checkpoint ?? result.progress.syncedCheckpoint ?? resumeFrom;
      const { progress: _last, ...outcome } = result;
      attempts.push({
        attempt,
        runId,
        vmName,
        outcome,
        elapsedMs: result.progress.elapsedMs,
        reconnects: result.progress.reconnects,
        polls: result.progress.polls,
        checkpoint: checkpoint?.name,
      });
      const verdict = await judgeTraining({
        outcome: result,
        metrics: result.progress.metrics,
        trainingMs,
        hasCheckpoint: checkpoint !== undefined,
        attempt,
        policy,
      });
      log.info('training judged', { runId, verdict });
      if (alive) {
        await acts.killTraining(alive);
        alive = undefined;
      }

      if (verdict.action === 'retry') {
        resumeOnSameVm = !verdict.freshVm;
        resumeFrom = verdict.freshVm
          ? (result.progress.syncedCheckpoint ?? resumeFrom)
          : (checkpoint ?? resumeFrom);
        if (verdict.freshVm) {
          await CancellationScope.nonCancellable(() => teardown(vmName));
          if (!persistent) vmName = freshVmName(input.vm.name, attempt + 1);
          needVm = true;
        }
        continue;
      }

      const status: TrainingStatus =
        verdict.action === 'succeed'
          ? 'succeeded'
          : verdict.action === 'accept-checkpoint'
            ? 'accepted-checkpoint'
            : 'needs-decision';
      progress.phase = 'collecting';
      const outputs = await acts.collectTrainingOutputs({
        trainingId: input.trainingId,
        vmName,
        runId,
        status,
        checkpoint: result.progress.checkpoint ?? resumeFrom,
        syncedCheckpoint:
          result.progress.syncedCheckpoint ?? (resumeFrom?.localPath ? resumeFrom : undefined),
      });
      const reason = verdict.action === 'give-up' ? verdict.reason : undefined;
      // Torn down before the result is built (the same commands, in the same order, as the finally
      // below would issue), so the result's VM hours end with the teardown.
      progress.phase = 'tearing-down';
      for (const name of [...liveVms]) await CancellationScope.nonCancellable(() => teardown(name));
      const final: TrainOnVmResult = {
        ...usage(),
        status,
        reason,
        message: verdict.message,
        attempts,
        outputs,
        lastMetric: result.progress.lastMetric,
        metrics: result.progress.metrics,
        trainingMs,
      };
      if (reason && policy.onExhausted === 'fail') {
        throw ApplicationFailure.create({
          type: reason,
          message: verdict.message,
          nonRetryable: true,
          details: [final],
        });
      }
      return final;
    }
  } finally {
    await CancellationScope.nonCancellable(async () => {
      progress.phase = 'tearing-down';
      // A cancel or failure must not leave the training running on a VM that is merely stopped.
      if (alive && liveVms.has(alive.vmName)) await acts.killTraining(alive);
      for (const name of [...liveVms]) await teardown(name);
      // After the stop: the next holder starts the instance itself.
      await lease?.release();
      progress.phase = 'done';
      recordVmUsage(vms, input.vm.labels);
    });
  }
}

/** Runs the monitor; its time limits turn into a `timed-out` outcome with the last heartbeat's progress. */
async function monitor(
  input: TrainOnVmInput,
  timing: Required<MonitorTiming>,
  vmName: string,
  runId: string,
): Promise<MonitorResult> {
  const { monitorTraining } = proxyActivities<TrainingActivities>({
    activityId: `monitor-${runId}`,
    startToCloseTimeout: input.maxDuration,
    // Unlimited retries (a worker crash, a heartbeat timeout) but never past the training's maximum.
    scheduleToCloseTimeout: input.maxDuration,
    heartbeatTimeout: timing.heartbeatTimeout,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
    // A worker busy with SQL never delays a heartbeat: monitors may have workers of their own.
    ...(input.monitorTaskQueue ? { taskQueue: input.monitorTaskQueue } : {}),
  });
  try {
    return await monitorTraining({
      trainingId: input.trainingId,
      vmName,
      runId,
      pollIntervalMs: msToNumber(timing.pollInterval),
      providerCheckAfterMs: msToNumber(timing.providerCheckAfter),
      unreachableLimitMs: msToNumber(timing.unreachableLimit),
      maxBackoffMs: msToNumber(timing.maxReconnectBackoff),
      syncCheckpoints: true,
    });
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof TimeoutFailure) {
      const last = error.cause.lastHeartbeatDetails as MonitorResult['progress'] | undefined;
      const progress = last ?? {
        runId,
        logOffset: 0,
        metricsOffset: 0,
        metrics: { count: 0, invalid: 0 },
        reconnects: 0,
        polls: 0,
        elapsedMs: msToNumber(input.maxDuration),
        logTail: '',
      };
      return { kind: 'timed-out', progress };
    }
    throw error;
  }
}

/** `<name>-r<n>`, shortened to Compute Engine's 63 characters (names end with a letter or digit). */
export function freshVmName(base: string, retry: number): string {
  const suffix = `-r${retry}`;
  return `${base.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

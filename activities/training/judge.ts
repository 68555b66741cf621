import { msToNumber } from '@temporalio/common/lib/time';
import {
  TrainingErrorType,
  type MetricsSummary,
  type MonitorOutcome,
  type TrainingPolicy,
} from '../../workflows/training-types';

export interface JudgeInput {
  outcome: MonitorOutcome;
  metrics: MetricsSummary;
  /** Training time of every attempt so far, this one included, measured on the VMs. */
  trainingMs: number;
  /** A checkpoint exists (on the VM or copied to the worker side). */
  hasCheckpoint: boolean;
  /** 0 for the first attempt. */
  attempt: number;
  policy: TrainingPolicy;
}

export type Verdict =
  | { action: 'succeed'; message: string }
  | { action: 'accept-checkpoint'; message: string }
  | { action: 'retry'; freshVm: boolean; reason: TrainingErrorType; message: string }
  | { action: 'give-up'; reason: TrainingErrorType; message: string };

/** Loss went down from the first to the last line and nothing was NaN, infinite or unreadable. */
export function checkConvergence(metrics: MetricsSummary): { ok: boolean; message: string } {
  if (metrics.invalid > 0)
    return { ok: false, message: `${metrics.invalid} metric line(s) are NaN/Infinity or unreadable` };
  if (metrics.firstLoss === undefined || metrics.lastLoss === undefined || metrics.count < 2)
    return { ok: false, message: `too few loss values in metrics.jsonl (${metrics.count})` };
  if (!(metrics.lastLoss < metrics.firstLoss))
    return { ok: false, message: `loss did not decrease (${metrics.firstLoss} → ${metrics.lastLoss})` };
  return { ok: true, message: `loss decreased ${metrics.firstLoss} → ${metrics.lastLoss}` };
}

function describe(outcome: MonitorOutcome): { reason: TrainingErrorType; message: string } {
  switch (outcome.kind) {
    case 'exited':
      return {
        reason: TrainingErrorType.TRAINING_FAILED,
        message: `training exited with code ${outcome.exitCode}`,
      };
    case 'vanished':
      return {
        reason: TrainingErrorType.SESSION_VANISHED,
        message: 'tmux session and training ended without an exit code',
      };
    case 'vm-stopped':
      return { reason: TrainingErrorType.VM_STOPPED, message: `the instance is ${outcome.vmStatus}` };
    case 'timed-out':
      return { reason: TrainingErrorType.TIMED_OUT, message: 'training ran past its maximum duration' };
    case 'unreachable':
      return {
        reason: TrainingErrorType.UNREACHABLE,
        message: `SSH unreachable for ${Math.round(outcome.forMs / 1000)} s`,
      };
  }
}

/**
 * The step policy of DESIGN.md §5: exit 0 succeeds (gated by convergence when asked); otherwise a
 * long-enough run with a checkpoint is accepted, then retries from the checkpoint, then give up.
 * Pure, so the workflow records its verdict once (a local activity) and replays never re-judge.
 */
export function judgeAttempt(input: JudgeInput): Verdict {
  const { outcome, policy } = input;
  if (outcome.kind === 'exited' && outcome.exitCode === 0) {
    if (!policy.requireConvergence) return { action: 'succeed', message: 'training exited with code 0' };
    const convergence = checkConvergence(input.metrics);
    return convergence.ok
      ? { action: 'succeed', message: `training exited with code 0; ${convergence.message}` }
      : { action: 'give-up', reason: TrainingErrorType.CONVERGENCE_FAILED, message: convergence.message };
  }
  const failure = describe(outcome);
  const minimum =
    policy.acceptCheckpointAfter === undefined ? undefined : msToNumber(policy.acceptCheckpointAfter);
  if (minimum !== undefined && input.hasCheckpoint && input.trainingMs >= minimum) {
    return {
      action: 'accept-checkpoint',
      message: `${failure.message} after ${Math.round(input.trainingMs / 1000)} s (≥ ${Math.round(minimum / 1000)} s): latest checkpoint accepted`,
    };
  }
  if (input.attempt < (policy.maxRetries ?? 0)) {
    const freshVm = outcome.kind === 'vm-stopped' || outcome.kind === 'unreachable';
    const from = input.hasCheckpoint ? 'from the latest checkpoint' : 'from scratch (no checkpoint)';
    return {
      action: 'retry',
      freshVm,
      reason: failure.reason,
      message: `${failure.message}; retry ${input.attempt + 1}/${policy.maxRetries} ${from}${freshVm ? ' on a fresh VM' : ''}`,
    };
  }
  return { action: 'give-up', ...failure };
}

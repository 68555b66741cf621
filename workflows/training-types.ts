// Types, failure types and the progress query of `trainOnVm`. No workflow logic here, so the runner,
// the API and the activities can import it without pulling in workflow code.
import { defineQuery } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { VmSpec } from '../activities/providers/types';
import type { CostEstimate, VmUsage } from './cost';

/** Failure types of a training step; `ApplicationFailure.type` and `needs-decision` reasons use them. */
export enum TrainingErrorType {
  INVALID_INPUT = 'INVALID_INPUT',
  /** The instance was stopped, preempted or deleted under the training. */
  VM_STOPPED = 'VM_STOPPED',
  /** The tmux session and the training process are gone, and no exit code was written. */
  SESSION_VANISHED = 'SESSION_VANISHED',
  /** The instance runs but SSH stayed unreachable beyond the limit. */
  UNREACHABLE = 'UNREACHABLE',
  /** The training command exited with a non-zero code. */
  TRAINING_FAILED = 'TRAINING_FAILED',
  /** Exit 0, but metrics.jsonl shows no loss decrease or a NaN. */
  CONVERGENCE_FAILED = 'CONVERGENCE_FAILED',
  /** The training ran past its maximum duration. */
  TIMED_OUT = 'TIMED_OUT',
  /** The code folder, the commit or an input cannot be read on the worker. */
  UPLOAD_FAILED = 'UPLOAD_FAILED',
}

/** The model code to run: a local folder, or a commit of a local git repository (`git archive`). */
export type CodeSource =
  | { kind: 'folder'; path: string }
  /** `path`: only that folder of the commit is shipped (a step's program); the whole tree without it. */
  | { kind: 'git'; repo: string; commit: string; path?: string };

/** How a failed attempt is judged. Durations accept `ms` strings (`'5h'`, `'3s'`) or milliseconds. */
export interface TrainingPolicy {
  /** Gate success on metrics.jsonl: the loss went down and no value is NaN/Infinity. */
  requireConvergence?: boolean;
  /** "Valid if it ran at least this long and a checkpoint exists": accept the latest checkpoint. */
  acceptCheckpointAfter?: Duration;
  /** Retries of a failed attempt, resumed from the latest checkpoint (on a fresh VM if the old one is gone). */
  maxRetries?: number;
  /** What happens when nothing else applies: hand the decision to an operator (default) or fail. */
  onExhausted?: 'needs-decision' | 'fail';
}

/** Timing knobs of the monitor; production defaults are minutes, tests use seconds. */
export interface MonitorTiming {
  heartbeatTimeout?: Duration;
  pollInterval?: Duration;
  /** After this long without SSH, ask the provider whether the VM still runs. */
  providerCheckAfter?: Duration;
  /** After this long without SSH while the VM runs, give up with UNREACHABLE. */
  unreachableLimit?: Duration;
  maxReconnectBackoff?: Duration;
}

export interface TrainOnVmInput {
  /** Unique per run and step; names the run folder `~/runs/<id>` and the tmux session `train-<id>`. */
  trainingId: string;
  vm: VmSpec;
  code: CodeSource;
  /** Local files or folders uploaded to `~/runs/<id>/inputs/<basename>`. */
  inputs?: string[];
  /** Shell command run in the code folder, e.g. `python3 train.py --epochs 40`. */
  command: string;
  env?: Record<string, string>;
  /** The longest the training may run (the monitor's startToCloseTimeout). */
  maxDuration: Duration;
  policy?: TrainingPolicy;
  monitor?: MonitorTiming;
  /**
   * A checkpoint on the worker's side to resume from (uploaded to the VM's `resume/`, `RESUME_FROM`):
   * an operator's retry of a training step continues where the earlier attempt stopped.
   */
  resumeFrom?: CheckpointRef;
  /**
   * Task queue of the long heartbeating activities (the monitor, the wait for SSH), served by workers
   * that run nothing else (`TEMPORAL_TASK_QUEUE_TRAINING`); the workflow's own queue when absent.
   */
  monitorTaskQueue?: string;
}

export interface MetricLine {
  step?: number;
  loss?: number;
  val_loss?: number;
  ts?: number;
}

/** Running summary of metrics.jsonl, enough for the convergence check without keeping every line. */
export interface MetricsSummary {
  count: number;
  firstLoss?: number;
  minLoss?: number;
  lastLoss?: number;
  /** Lines whose loss or val_loss is NaN or infinite, or not JSON. */
  invalid: number;
}

export interface CheckpointRef {
  name: string;
  /** Where the checkpoint lives on the worker's side (registry staging), once downloaded. */
  localPath?: string;
  /** Where it lives on the VM, `~/runs/<runId>/checkpoints/<name>` as an absolute path. */
  remotePath?: string;
  size: number;
}

/** Heartbeat details of the monitor: what a new attempt resumes from and what the Web UI shows. */
export interface MonitorHeartbeat {
  runId: string;
  logOffset: number;
  metricsOffset: number;
  lastMetric?: MetricLine;
  metrics: MetricsSummary;
  reconnects: number;
  /** Polls made so far (one SSH exec each), over all attempts of the monitor. */
  polls: number;
  /** Training time measured on the VM (now − started_at). */
  elapsedMs: number;
  /** Latest checkpoint seen on the VM, and the one copied to the worker side. */
  checkpoint?: CheckpointRef;
  syncedCheckpoint?: CheckpointRef;
  /** Last lines of train.log, for a look from the Web UI. */
  logTail: string;
  /** Epoch ms since when SSH has failed; absent while reachable. */
  unreachableSince?: number;
}

export type MonitorOutcome =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'vanished' }
  | { kind: 'vm-stopped'; vmStatus: string }
  | { kind: 'unreachable'; forMs: number }
  /** The monitor ran out of `maxDuration`; the training may still run (it is killed). */
  | { kind: 'timed-out' };

export type MonitorResult = MonitorOutcome & { progress: MonitorHeartbeat };

export type TrainingStatus = 'succeeded' | 'accepted-checkpoint' | 'needs-decision';

export interface TrainingAttempt {
  attempt: number;
  runId: string;
  vmName: string;
  outcome: MonitorOutcome;
  elapsedMs: number;
  /** SSH reconnections of the monitor (network cuts, worker restarts). */
  reconnects: number;
  /** Polls (SSH execs) the monitor made; none of them is a history event. */
  polls: number;
  checkpoint?: string;
}

export interface CollectedOutputs {
  /** Registry folder of this training: `<registry>/<trainingId>/`. */
  dir: string;
  /** The model to use: `output/` of a successful run, or the accepted checkpoint. */
  modelPath?: string;
  checkpointPath?: string;
  metricsPath?: string;
  logPath?: string;
}

export interface TrainOnVmResult {
  status: TrainingStatus;
  /** Why an operator must decide (absent on success). */
  reason?: TrainingErrorType;
  message: string;
  attempts: TrainingAttempt[];
  outputs?: CollectedOutputs;
  lastMetric?: MetricLine;
  metrics?: MetricsSummary;
  /** Training time summed over attempts, measured on the VMs. */
  trainingMs: number;
  /** Each VM used and when it ran (absent in results of runs recorded before cost tracking). */
  vms?: VmUsage[];
  /** VM hours and estimated cost of those VMs (config/prices.ts). */
  cost?: CostEstimate;
}

export type TrainingPhase =
  | 'waiting-for-instance'
  | 'provisioning'
  | 'connecting'
  | 'uploading'
  | 'launching'
  | 'training'
  | 'judging'
  | 'collecting'
  | 'tearing-down'
  | 'done';

/**
 * What the `trainingProgress` query returns. Live step/loss come from the monitor's heartbeat details
 * (they never enter history); the workflow only knows them as of the last finished attempt.
 * `readTrainingProgress` (clients/training-progress.ts) merges both for the API.
 */
export interface TrainingProgress {
  phase: TrainingPhase;
  attempt: number;
  vmName?: string;
  runId?: string;
  /** Activity id of the running monitor, to find its heartbeat details in the pending activities. */
  monitorActivityId?: string;
  lastMetric?: MetricLine;
  elapsedMs: number;
  /** While another run holds the persistent instance: "waiting for <instance>, held by run <id>". */
  waitingFor?: string;
  /** Each VM used so far and when it ran; an interval without `end` is still running. */
  vms?: VmUsage[];
}

export const trainingProgressQuery = defineQuery<TrainingProgress>('trainingProgress');

import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseActivities } from '../../activities/lease';
import type { TrainingActivities } from '../../activities/training';
import { leaseUpdateSignal } from '../../workflows/lease-definitions';
import { judgeAttempt } from '../../activities/training/judge';
import { freshVmName, trainOnVm } from '../../workflows/train-on-vm';
import {
  TrainingErrorType,
  trainingProgressQuery,
  type MonitorHeartbeat,
  type MonitorOutcome,
  type MonitorResult,
  type TrainOnVmInput,
} from '../../workflows/training-types';
import { createTimeSkippingEnv, sharedWorkflowBundle } from '../harness/temporal';

const workflowsPath = resolve(__dirname, '..', '..', 'workflows', 'train-on-vm.ts');

const progress = (extra: Partial<MonitorHeartbeat> = {}): MonitorHeartbeat => ({
  runId: 'r',
  logOffset: 10,
  metricsOffset: 20,
  metrics: { count: 3, firstLoss: 1, minLoss: 0.5, lastLoss: 0.5, invalid: 0 },
  reconnects: 0,
  polls: 4,
  elapsedMs: 60_000,
  logTail: '',
  ...extra,
});

/**
 * Activities stubbed at the boundary: each call is recorded as `name:argument`, and the monitor's
 * outcomes are scripted per attempt. The judge is the real one (pure).
 */
function stubActivities(
  outcomes: MonitorOutcome[],
  options: { monitorBlocks?: boolean; uploadFails?: boolean; noCheckpointFrom?: number } = {},
) {
  const calls: string[] = [];
  let monitorCalls = 0;
  const activities: TrainingActivities & LeaseActivities = {
    // The lease of a persistent instance: granted at once (workflows/instance-lease.ts is tested on its own).
    requestInstanceLease: async ({ instance, request }) => {
      calls.push(`lease:${instance}`);
      await Context.current()
        .client.workflow.getHandle(request.holder)
        .signal(leaseUpdateSignal, { instance, granted: true });
    },
    releaseInstanceLease: async ({ instance }) => void calls.push(`release:${instance}`),
    provisionTrainingVm: async (spec) => (
      calls.push(`provision:${spec.name}`),
      { name: spec.name, status: 'RUNNING', labels: {} }
    ),
    waitForTrainingSsh: async (input) => void calls.push(`ssh:${input.vmName}`),
    uploadTrainingRun: async (input) => {
      calls.push(
        `upload:${input.runId}:${input.resumeFrom?.name ?? '-'}:${input.resumeOnSameVm ? 'same' : 'fresh'}`,
      );
      if (options.uploadFails)
        throw ApplicationFailure.create({
          type: TrainingErrorType.UPLOAD_FAILED,
          message: 'no code',
          nonRetryable: true,
        });
      return { uploaded: true };
    },
    launchTraining: async (input) => (calls.push(`launch:${input.runId}`), { state: 'launched' }),
    monitorTraining: async (input): Promise<MonitorResult> => {
      calls.push(`monitor:${input.runId}`);
      if (options.monitorBlocks) return await Context.current().cancelled; // until the worker shuts down
      const outcome = outcomes[monitorCalls++]!;
      const checkpoint =
        monitorCalls >= (options.noCheckpointFrom ?? Infinity)
          ? undefined
          : { name: `ckpt-${monitorCalls}`, size: 1, localPath: `/synced/ckpt-${monitorCalls}` };
      return { ...outcome, progress: progress({ runId: input.runId, syncedCheckpoint: checkpoint }) };
    },
    judgeTraining: async (input) => judgeAttempt(input),
    killTraining: async (input) => (calls.push(`kill:${input.runId}`), { stopped: true }),
    collectTrainingOutputs: async (input) => (
      calls.push(`collect:${input.runId}:${input.status}:${input.syncedCheckpoint?.name ?? '-'}`),
      { dir: `/registry/${input.trainingId}` }
    ),
    teardownTrainingVm: async (input) =>
      void calls.push(`teardown:${input.vmName}:${input.persistent ? 'stop' : 'delete'}`),
  };
  return { calls, activities };
}

const input = (id: string, extra: Partial<TrainOnVmInput> = {}): TrainOnVmInput => ({
  trainingId: id,
  vm: { name: `vm-${id}`, machineImage: 'cpu-python-template-prod' },
  code: { kind: 'folder', path: 'models/test-trainer' },
  command: 'python3 train.py',
  maxDuration: '6 hours',
  ...extra,
});

describe('trainOnVm workflow (time-skipping server, activities stubbed at the boundary)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function run(activities: TrainingActivities & LeaseActivities, args: TrainOnVmInput) {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `tov-${randomUUID()}`,
      workflowBundle: await sharedWorkflowBundle(workflowsPath),
      activities,
    });
    return await worker.runUntil(
      env.client.workflow
        .execute(trainOnVm, {
          args: [args],
          workflowId: args.trainingId,
          taskQueue: worker.options.taskQueue,
        })
        .then(
          (result) => ({ result, error: undefined }),
          (error: unknown) => ({ result: undefined, error }),
        ),
    );
  }

  it('runs the steps in order and deletes the VM after success', async () => {
    const { calls, activities } = stubActivities([{ kind: 'exited', exitCode: 0 }]);
    const { result } = await run(activities, input('ok'));
    expect(result?.status).toBe('succeeded');
    expect(calls).toEqual([
      'provision:vm-ok',
      'ssh:vm-ok',
      'upload:ok:-:fresh',
      'launch:ok',
      'monitor:ok',
      'collect:ok:succeeded:ckpt-1',
      'teardown:vm-ok:delete',
    ]);
  });

  it('keeps retrying a failing teardown past the old limit of 10 attempts, and records the VM hours', async () => {
    const { calls, activities } = stubActivities([{ kind: 'exited', exitCode: 0 }]);
    let failures = 0;
    activities.teardownTrainingVm = async (teardown) => {
      if (failures < 11) {
        failures += 1;
        throw new Error(`compute API unavailable (${failures})`);
      }
      calls.push(`teardown:${teardown.vmName}`);
    };
    const { result, error } = await run(activities, input('stubborn'));
    expect(error).toBeUndefined();
    expect(failures).toBe(11);
    expect(calls.at(-1)).toBe('teardown:vm-stubborn');
    // Its interval closes when the teardown finally returned (the retries' backoff is skipped time).
    expect(result?.vms).toEqual([
      expect.objectContaining({
        vmName: 'vm-stubborn',
        intervals: [{ start: expect.any(String), end: expect.any(String) }],
      }),
    ]);
    expect(result?.cost?.vmHours).toBeGreaterThan(0.1);
  });

  it('retries a stopped VM on a fresh one from the synced checkpoint, tearing the old one down first', async () => {
    const { calls, activities } = stubActivities([
      { kind: 'vm-stopped', vmStatus: 'TERMINATED' },
      { kind: 'exited', exitCode: 0 },
    ]);
    const { result } = await run(activities, input('pre', { policy: { maxRetries: 1 } }));
    expect(result?.attempts.map((attempt) => attempt.vmName)).toEqual(['vm-pre', 'vm-pre-r1']);
    expect(calls).toEqual([
      'provision:vm-pre',
      'ssh:vm-pre',
      'upload:pre:-:fresh',
      'launch:pre',
      'monitor:pre',
      'kill:pre',
      'teardown:vm-pre:delete',
      'provision:vm-pre-r1',
      'ssh:vm-pre-r1',
      'upload:pre-r1:ckpt-1:fresh',
      'launch:pre-r1',
      'monitor:pre-r1',
      'collect:pre-r1:succeeded:ckpt-2',
      'teardown:vm-pre-r1:delete',
    ]);
  });

  it('counts the checkpoint a retry resumed from: accepted when the retry crashes before its own', async () => {
    const crash = { kind: 'exited', exitCode: 1 } as const;
    const { calls, activities } = stubActivities([crash, crash], { noCheckpointFrom: 2 });
    const { result } = await run(
      activities,
      input('resumed', { policy: { maxRetries: 1, acceptCheckpointAfter: '90 seconds' } }),
    );
    // 60 s + 60 s of training ≥ 90 s, and the checkpoint of the first attempt exists.
    expect(result).toMatchObject({ status: 'accepted-checkpoint', trainingMs: 120_000 });
    expect(result?.attempts.map((attempt) => attempt.checkpoint)).toEqual(['ckpt-1', 'ckpt-1']);
    expect(calls).toContain('collect:resumed-r1:accepted-checkpoint:ckpt-1');
  });

  it('fails with a typed failure when the policy says so, still tearing down (persistent: stop)', async () => {
    const { calls, activities } = stubActivities([{ kind: 'exited', exitCode: 2 }]);
    const { error } = await run(
      activities,
      input('fail', { vm: { name: 'quality-nb', persistent: true }, policy: { onExhausted: 'fail' } }),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(TrainingErrorType.TRAINING_FAILED);
    // The persistent instance is leased before it is started and released after it is stopped.
    expect(calls[0]).toBe('lease:quality-nb');
    expect(calls.slice(-3)).toEqual([
      'collect:fail:needs-decision:ckpt-1',
      'teardown:quality-nb:stop',
      'release:quality-nb',
    ]);
  });

  it('tears the VM down when the upload fails, without a kill (nothing was launched)', async () => {
    const { calls, activities } = stubActivities([], { uploadFails: true });
    const { error } = await run(activities, input('noupload'));
    expect(((error as WorkflowFailedError).cause?.cause as ApplicationFailure).type).toBe(
      TrainingErrorType.UPLOAD_FAILED,
    );
    expect(calls).toEqual([
      'provision:vm-noupload',
      'ssh:vm-noupload',
      'upload:noupload:-:fresh',
      'teardown:vm-noupload:delete',
    ]);
  });

  it('on cancel kills the remote process group, then tears down; the query shows the phase meanwhile', async () => {
    const { calls, activities } = stubActivities([], { monitorBlocks: true });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `tov-${randomUUID()}`,
      workflowBundle: await sharedWorkflowBundle(workflowsPath),
      activities,
    });
    const error = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(trainOnVm, {
        args: [input('cancel')],
        workflowId: 'cancel',
        taskQueue: worker.options.taskQueue,
      });
      let phase = await handle.query(trainingProgressQuery);
      while (phase.phase !== 'training') phase = await handle.query(trainingProgressQuery);
      expect(phase).toMatchObject({
        runId: 'cancel',
        vmName: 'vm-cancel',
        monitorActivityId: 'monitor-cancel',
      });
      await handle.cancel();
      return await handle.result().catch((reason: unknown) => reason);
    });
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(calls.slice(-2)).toEqual(['kill:cancel', 'teardown:vm-cancel:delete']);
  });

  it('names fresh VMs within the 63 characters Compute Engine allows', () => {
    expect(freshVmName('vm-a', 1)).toBe('vm-a-r1');
    const long = `rt-${'x'.repeat(55)}-abcd`;
    expect(long).toHaveLength(63);
    expect(freshVmName(long, 1)).toBe(`rt-${'x'.repeat(55)}-a-r1`);
    // Never a dash before the suffix, never past 63 characters.
    expect(freshVmName(long, 12)).toBe(`rt-${'x'.repeat(55)}-r12`);
  });
});

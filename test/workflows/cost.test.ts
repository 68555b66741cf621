import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainingIds, type TrainingStepActivities } from '../../activities/kinds/training';
import { createPlanActivities } from '../../activities/plan';
import type { TrainingActivities } from '../../activities/training';
import { judgeAttempt } from '../../activities/training/judge';
import { PRICES } from '../../config/prices';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { statusQuery } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { trainingProgressQuery, type TrainOnVmInput } from '../../workflows/training-types';
import { ownerOf } from '../../workflows/vm-labels';
import { looseKind } from '../harness/kinds';
import { createTimeSkippingEnv } from '../harness/temporal';

const pipeline = definePipeline('costly', { parameters: {} })
  .step('gpu.train', {
    kind: 'train',
    spec: { vm: { machineType: 'n1-standard-8', accelerator: 'nvidia-tesla-t4:1' } },
    retry: { maximumAttempts: 1 },
  })
  .step('cpu.train', {
    kind: 'train',
    spec: { vm: { machineImage: 'cpu-python-template-prod' } },
    retry: { maximumAttempts: 1 },
  })
  .build();

/**
 * VM hours and cost of a run: two training steps on the time-skipping server with the activities
 * stubbed at the boundary. The server does not skip time while an activity runs, so each monitor
 * holds its VM for 2 real seconds; the exact arithmetic over hours is in test/unit/cost.test.ts.
 */
describe('cost per step and per run', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('prices each VM from its intervals, machine type and accelerator, per step, per run and in the result', async () => {
    const events = new EventEmitter();
    const monitoring = new Set<string>();
    const labels = new Map<string, Record<string, string>>();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const heldMs = 2000;

    const stepActivities: TrainingStepActivities = {
      prepareTrainingStep: async (execution): Promise<TrainOnVmInput> => {
        const { trainingId, vmName } = trainingIds(execution);
        const vm = execution.step.spec.vm as { machineType?: string; machineImage?: string };
        return {
          trainingId,
          vm: {
            name: vmName,
            ...(vm.machineType
              ? { machineType: vm.machineType, accelerator: { type: 'nvidia-tesla-t4', count: 1 } }
              : { machineImage: vm.machineImage }),
            labels: { run_id: 'r' },
          },
          code: { kind: 'folder', path: '.' },
          command: 'true',
          maxDuration: '6 hours',
        };
      },
      discardTrainingInputs: async () => undefined,
      finishTrainingStep: async (input) => ({ outputs: input.execution.outputs, info: {} }),
    };
    const training: TrainingActivities = {
      provisionTrainingVm: async (spec) => (
        labels.set(spec.name, spec.labels ?? {}),
        { name: spec.name, status: 'RUNNING', labels: spec.labels ?? {} }
      ),
      waitForTrainingSsh: async () => undefined,
      uploadTrainingRun: async () => ({ uploaded: true }),
      launchTraining: async () => ({ state: 'launched' }),
      monitorTraining: async (input) => {
        monitoring.add(input.trainingId);
        events.emit('monitor');
        await released;
        return {
          kind: 'exited',
          exitCode: 0,
          progress: {
            runId: input.runId,
            logOffset: 0,
            metricsOffset: 0,
            metrics: { count: 2, firstLoss: 1, minLoss: 0.5, lastLoss: 0.5, invalid: 0 },
            reconnects: 0,
            polls: 1,
            elapsedMs: 7_200_000,
            logTail: '',
          },
        };
      },
      judgeTraining: async (input) => judgeAttempt(input),
      killTraining: async () => ({ stopped: true }),
      collectTrainingOutputs: async (input) => ({ dir: `/registry/${input.trainingId}` }),
      teardownTrainingVm: async () => undefined,
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `cost-${randomUUID()}`,
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
      activities: {
        ...createPlanActivities({
          pipelines: createPipelineRegistry([pipeline]),
          // The training activities are stubbed: a train kind that takes this test's short specs.
          kinds: [looseKind('train', undefined, { by: 'child-workflow', workflow: 'trainOnVm' })],
        }),
        ...stepActivities,
        ...training,
        notify: async () => ({ channels: [] }),
      },
    });
    const workflowId = `costly/${randomUUID()}`;
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'costly', cutoff: '2026-10-01' }],
        workflowId,
        taskQueue: worker.options.taskQueue,
      });
      while (monitoring.size < 2) await once(events, 'monitor');
      // While the trainings run, their VMs' open intervals are visible through the query.
      // While the trainings run, their VMs' open intervals are visible through the query.
      const child = env.client.workflow.getHandle(`${workflowId}/gpu.train/1`);
      const live = await child.query(trainingProgressQuery);
      expect(live.vms).toEqual([
        expect.objectContaining({
          vmName: expect.stringMatching(/^rt-gpu-train-/),
          intervals: [{ start: expect.any(String) }],
        }),
      ]);
      const started = Date.now();
      await sleep(heldMs);
      release();
      const result = await handle.result();
      const wallHours = (Date.now() - started + 1000) / 3_600_000;
      const status = await handle.query(statusQuery);

      const gpuHourly = PRICES.machineTypes['n1-standard-8']! + PRICES.accelerators['nvidia-tesla-t4']!;
      const cpuHourly = PRICES.machineTypes['n1-standard-4']!; // the image's machine type
      const gpu = status.steps.find((step) => step.id === 'gpu.train')?.cost;
      const cpu = status.steps.find((step) => step.id === 'cpu.train')?.cost;
      for (const [cost, hourly, machineType] of [
        [gpu, gpuHourly, 'n1-standard-8'],
        [cpu, cpuHourly, 'n1-standard-4'],
      ] as const) {
        // Each VM ran from its provision to its teardown: at least the 2 s the monitor held it.
        expect(cost?.vmHours).toBeGreaterThanOrEqual(heldMs / 3_600_000);
        expect(cost?.vmHours).toBeLessThan(wallHours);
        expect(cost?.vms).toHaveLength(1);
        expect(cost?.vms[0]).toMatchObject({ machineType, hourlyUsd: hourly });
        expect(cost?.vms[0]?.hours).toBe(cost?.vmHours);
        expect(cost?.usd).toBeCloseTo((cost?.vmHours ?? 0) * hourly, 5);
      }
      expect(status.cost?.vmHours).toBeCloseTo((gpu?.vmHours ?? 0) + (cpu?.vmHours ?? 0), 5);
      expect(status.cost?.usd).toBeCloseTo((gpu?.usd ?? 0) + (cpu?.usd ?? 0), 5);
      expect(status.cost?.steps['gpu.train']).toEqual({ vmHours: gpu?.vmHours, usd: gpu?.usd });
      expect(result.cost).toEqual(status.cost);
      expect(Object.keys(result.cost?.steps ?? {}).sort()).toEqual(['cpu.train', 'gpu.train']);
      // Every VM names its owner training workflow for the reaper, beside the step's own labels.
      for (const [vmName, vmLabels] of labels) {
        const step = vmName.startsWith('rt-gpu') ? 'gpu.train' : 'cpu.train';
        expect(vmLabels.run_id).toBe('r');
        expect(ownerOf(vmLabels)).toBe(`${workflowId}/${step}/1`);
      }
    });
  });
});

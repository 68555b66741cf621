import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJoinRunActivities, joinOrStartRun } from '../../activities/join-run';
import { createPlanActivities } from '../../activities/plan';
import { createStepActivities, type StepExecution, type StepHandlerContext } from '../../activities/steps';
import { sensorClusteringKinds } from '../../pipelines/sensor-clustering/kinds';
import { bound, looseKind } from '../harness/kinds';
import { createPipelineRegistry, dailyRunTriggers } from '../../pipelines';
import { sensorClusteringPipeline } from '../../pipelines/sensor-clustering/pipeline';
import { sensorClusteringDaily } from '../../pipelines/sensor-clustering/trigger';
import { statusQuery } from '../../workflows/definitions';
import { joinDailyRun } from '../../workflows/join-daily-run';
import { createTimeSkippingEnv, sharedWorkflowBundle } from '../harness/temporal';

interface Sensor {
  sensor_id: string;
  rows: number;
  fingerprint: string;
}

/** One inference as the stand-in saw it: which batch, and the sensors of the items finished so far. */
interface Inference {
  batch: number | 'final';
  sensors: string[];
}

/**
 * The sensor kinds stood in at the boundary, over a test-owned "warehouse": `sensor_list` lists the
 * sensors that landed (with their fingerprints); `sensor_feature` records each item it computes, waits
 * until the test lets that sensor through (or the item is cancelled by a rerun) and then "has" the
 * item's output, which its cache check sees; `sensor_clusters` records the sensors of each inference.
 */
class SensorSteps {
  readonly landed = new Map<string, string>();
  /** `<sensor>@<fingerprint>` of every feature computation started. */
  readonly computed: string[] = [];
  /** Sensors whose features finished (their item's output exists). */
  readonly finished: string[] = [];
  readonly inferences: Inference[] = [];
  private readonly existing = new Set<string>();
  private readonly released = new Set<string>();
  private gated = true;
  private readonly emitter = new EventEmitter();

  land(sensor: string, fingerprint = 'aaaaaaaa'): void {
    this.landed.set(sensor, fingerprint);
  }

  /** Lets one sensor's feature computation finish (all of them, without gates, with `ungate`). */
  release(sensor: string): void {
    this.released.add(sensor);
    this.emitter.emit('change');
  }

  ungate(): void {
    this.gated = false;
    this.emitter.emit('change');
  }

  async until(done: () => boolean): Promise<void> {
    while (!done()) await once(this.emitter, 'change');
  }

  activities() {
    return createStepActivities(
      bound(
        looseKind('sensor_list', {
          run: async () => {
            const sensors: Sensor[] = [...this.landed].map(([sensor_id, fingerprint]) => ({
              sensor_id,
              rows: 24,
              fingerprint,
            }));
            return { info: { sensors: sensors as unknown as Record<string, string>[] } };
          },
        }),
        looseKind('sensor_feature', {
          run: async (execution: StepExecution, context: StepHandlerContext) => {
            const sensor = execution.step.spec.sensor as unknown as Sensor;
            this.computed.push(`${sensor.sensor_id}@${sensor.fingerprint}`);
            this.emitter.emit('change');
            await new Promise<void>((resolve, reject) => {
              const check = () => {
                if (context.signal.aborted) return reject(new Error('cancelled'));
                if (!this.gated || this.released.has(sensor.sensor_id)) return resolve();
                this.emitter.once('change', check);
              };
              context.signal.addEventListener('abort', () => this.emitter.emit('change'));
              check();
            });
            for (const name of Object.values(execution.outputs)) this.existing.add(name);
            this.finished.push(sensor.sensor_id);
            this.emitter.emit('change');
            return { info: { sensor: sensor.sensor_id } };
          },
          outputsExist: async (execution) =>
            Object.values(execution.outputs).every((name) => this.existing.has(name)),
        }),
        looseKind('sensor_clusters', {
          run: async (execution: StepExecution) => {
            const items = execution.items?.[execution.step.spec.sensors_step as string] ?? [];
            this.inferences.push({
              batch: execution.batch?.final === false ? execution.batch.index : 'final',
              sensors: items.map(({ item }) => (item as unknown as Sensor).sensor_id),
            });
            this.emitter.emit('change');
            return { info: { partial: execution.batch?.final === false } };
          },
        }),
      ),
    );
  }
}

describe('sensor-clustering: one run per day, features as a map, partial results per batch', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const worker = async (steps: SensorSteps) =>
    await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `sensors-${randomUUID()}`,
      workflowBundle: await sharedWorkflowBundle(join(__dirname, '..', '..', 'workflows', 'index.ts')),
      activities: {
        ...createPlanActivities({
          pipelines: createPipelineRegistry([sensorClusteringPipeline]),
          kinds: sensorClusteringKinds,
        }),
        ...steps.activities(),
        ...createJoinRunActivities(dailyRunTriggers),
        notify: async () => ({ channels: [] }),
      },
      maxHeartbeatThrottleInterval: '50 milliseconds',
    });
  const arrive = (taskQueue: string, day: string, sensor: string) =>
    joinOrStartRun(env.client, {
      pipeline: 'sensor-clustering',
      runKey: day,
      cutoff: day,
      rerunFrom: sensorClusteringDaily.rerunFrom,
      reason: `arrived: ${sensor}`,
      taskQueue,
    });

  it('sensors arriving together start one run; one arriving during it joins it; after it, a follow-up computes only what changed', async () => {
    const steps = new SensorSteps();
    const w = await worker(steps);
    const day = '2026-11-05';
    await w.runUntil(async () => {
      const queue = w.options.taskQueue;
      steps.land('hive-001');
      steps.land('hive-002');
      const [a, b] = await Promise.all([arrive(queue, day, 'hive-001'), arrive(queue, day, 'hive-002')]);
      expect(a).toEqual(b);
      expect(a.workflowId).toBe(`sensor-clustering/${day}`);
      // hive-001's features finish; hive-002's are still computing when hive-003 lands.
      steps.release('hive-001');
      await steps.until(
        () => steps.finished.includes('hive-001') && steps.computed.includes('hive-002@aaaaaaaa'),
      );
      steps.land('hive-003');
      const c = await arrive(queue, day, 'hive-003');
      expect(c).toEqual(a);
      // The run lists its sensors again: hive-001 (finished) is cached; hive-002 (cancelled) and
      // hive-003 are computed.
      await steps.until(() => steps.computed.includes('hive-003@aaaaaaaa'));
      steps.ungate();
      const handle = env.client.workflow.getHandle(a.workflowId, a.runId);
      expect((await handle.result()).state).toBe('succeeded');
      const status = await handle.query(statusQuery);
      const features = status.steps.find((s) => s.id === 'features');
      expect(features?.state).toBe('succeeded');
      expect(features?.map).toMatchObject({ total: 3, failed: 0, cached: 1, succeeded: 2 });
      expect(steps.computed.filter((c) => c === 'hive-001@aaaaaaaa')).toHaveLength(1);
      expect(steps.computed.filter((c) => c === 'hive-002@aaaaaaaa')).toHaveLength(2);
      expect(steps.computed.filter((c) => c === 'hive-003@aaaaaaaa')).toHaveLength(1);
      expect(status.operatorActions.map((action) => action.payload)).toContainEqual({
        step: 'sensors',
        reason: 'arrived: hive-003',
        keepCached: true,
      });
      expect(steps.inferences.at(-1)).toEqual({
        batch: 'final',
        sensors: ['hive-001', 'hive-002', 'hive-003'],
      });

      // hive-004 is late and hive-002's readings changed: the day's run is over, so a follow-up run of
      // the same day starts and computes only those two; the other sensors are cached.
      const before = steps.computed.length;
      steps.land('hive-004');
      steps.land('hive-002', 'bbbbbbbb');
      const late = await arrive(queue, day, 'hive-004');
      expect(late.workflowId).toBe(a.workflowId);
      expect(late.runId).not.toBe(a.runId);
      const followUp = env.client.workflow.getHandle(late.workflowId, late.runId);
      expect((await followUp.result()).state).toBe('succeeded');
      expect(steps.computed.slice(before).sort()).toEqual(['hive-002@bbbbbbbb', 'hive-004@aaaaaaaa']);
      const map = (await followUp.query(statusQuery)).steps.find((s) => s.id === 'features')?.map;
      expect(map).toMatchObject({ total: 4, cached: 2, succeeded: 2 });
      expect(steps.inferences.at(-1)?.sensors).toEqual(['hive-001', 'hive-002', 'hive-003', 'hive-004']);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
    });
  });

  it('runs clustering on each finished batch, in order, over a growing set of sensors, then over all', async () => {
    const steps = new SensorSteps();
    const w = await worker(steps);
    const sensors = ['hive-001', 'hive-002', 'hive-003', 'hive-004', 'hive-005'];
    for (const sensor of sensors) steps.land(sensor);
    await w.runUntil(async () => {
      const run = await arrive(w.options.taskQueue, '2026-11-06', 'hive-005');
      // batchSize 20 %: one sensor per batch. Each sensor is let through after the previous batch's
      // partial inference, so every batch gets its own.
      for (const [index, sensor] of sensors.entries()) {
        steps.release(sensor);
        if (index < sensors.length - 1) await steps.until(() => steps.inferences.length > index);
      }
      const handle = env.client.workflow.getHandle(run.workflowId, run.runId);
      expect((await handle.result()).state).toBe('succeeded');
      expect(steps.inferences).toEqual([
        { batch: 1, sensors: sensors.slice(0, 1) },
        { batch: 2, sensors: sensors.slice(0, 2) },
        { batch: 3, sensors: sensors.slice(0, 3) },
        { batch: 4, sensors: sensors.slice(0, 4) },
        { batch: 'final', sensors },
      ]);
      const status = await handle.query(statusQuery);
      const inference = status.steps.find((s) => s.id === 'clustering_inference');
      expect(inference?.state).toBe('succeeded');
      expect(inference?.partials?.map((p) => [p.batch, p.items, p.state])).toEqual([
        [1, 1, 'succeeded'],
        [2, 2, 'succeeded'],
        [3, 3, 'succeeded'],
        [4, 4, 'succeeded'],
      ]);
    });
  });

  it('the daily schedule’s action joins the run of its day instead of starting another', async () => {
    const steps = new SensorSteps();
    const w = await worker(steps);
    steps.land('hive-001');
    await w.runUntil(async () => {
      const queue = w.options.taskQueue;
      // A schedule created before the `sensors` step existed still names `features`: the activity
      // takes the pipeline's current step.
      const trigger = await env.client.workflow.start(joinDailyRun, {
        args: [
          {
            pipeline: 'sensor-clustering',
            rerunFrom: 'features',
            startedBy: 'schedule:sensor-clustering-daily (set by ops)',
          },
        ],
        workflowId: `sensor-clustering-daily-${randomUUID()}`,
        taskQueue: queue,
      });
      // No result() while features block: waiting on a result lets the time-skipping server jump
      // past the blocked activity's heartbeat timeout.
      await steps.until(() => steps.computed.length >= 1);
      while ((await trigger.describe()).status.name !== 'COMPLETED');
      const scheduled = await trigger.result();
      const day = scheduled.workflowId.split('/')[1] as string;
      expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      steps.land('hive-002');
      const arrival = await arrive(queue, day, 'hive-002');
      expect(arrival).toEqual(scheduled);
      await steps.until(() => steps.computed.includes('hive-002@aaaaaaaa'));
      steps.ungate();
      const handle = env.client.workflow.getHandle(arrival.workflowId, arrival.runId);
      const result = await handle.result();
      expect(result.state).toBe('succeeded');
      expect(result.cutoff).toBe(day);
      expect(steps.inferences.at(-1)?.sensors).toEqual(['hive-001', 'hive-002']);
      // The schedule started the day's run: its status and its start input name who set it.
      expect((await handle.query(statusQuery)).startedBy).toBe(
        'schedule:sensor-clustering-daily (set by ops)',
      );
      const history = await handle.fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(defaultPayloadConverter.fromPayload(input!)).toMatchObject({
        startedBy: 'schedule:sensor-clustering-daily (set by ops)',
      });
    });
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJoinRunActivities, joinOrStartRun } from '../../activities/join-run';
import { createPlanActivities } from '../../activities/plan';
import { createStepActivities, type StepHandlerContext } from '../../activities/steps';
import { sensorClusteringKinds } from '../../pipelines/sensor-clustering/kinds';
import { bound, looseKind } from '../harness/kinds';
import { createPipelineRegistry } from '../../pipelines';
import { sensorClusteringPipeline } from '../../pipelines/sensor-clustering/pipeline';
import { sensorClusteringDaily } from '../../pipelines/sensor-clustering/trigger';
import { statusQuery } from '../../workflows/definitions';
import { joinDailyRun } from '../../workflows/join-daily-run';
import { createTimeSkippingEnv } from '../harness/temporal';

/**
 * The sensor kinds stood in at the boundary: `features` records each start and waits until the test
 * opens its gate (or the step is cancelled by a rerun); `clustering_inference` records its runs.
 */
class SensorSteps {
  readonly starts: string[] = [];
  inferences = 0;
  private open = false;
  private readonly emitter = new EventEmitter();

  release(): void {
    this.open = true;
    this.emitter.emit('open');
  }

  async featuresStarted(nth: number): Promise<void> {
    while (this.starts.length < nth) await once(this.emitter, 'start');
  }

  activities() {
    return createStepActivities(
      bound(
        looseKind('sensor_features', {
          run: async (execution, context: StepHandlerContext) => {
            this.starts.push(execution.workflowId);
            this.emitter.emit('start');
            if (!this.open) {
              await new Promise<void>((resolve, reject) => {
                const onAbort = () => reject(new Error('cancelled'));
                if (context.signal.aborted) return onAbort();
                context.signal.addEventListener('abort', onAbort);
                this.emitter.once('open', () => resolve());
              });
            }
            return { info: { sensors: this.starts.length } };
          },
        }),
        looseKind('sensor_clusters', {
          run: async () => {
            this.inferences += 1;
            return { info: { partial: false } };
          },
        }),
      ),
    );
  }
}

describe('sensor-clustering: one run per day, joined by arrivals and the schedule', () => {
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
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
      activities: {
        ...createPlanActivities({
          pipelines: createPipelineRegistry([sensorClusteringPipeline]),
          kinds: sensorClusteringKinds,
        }),
        ...steps.activities(),
        ...createJoinRunActivities(),
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

  it('sensors arriving together start one run; one arriving during it joins it; after it, a follow-up run', async () => {
    const steps = new SensorSteps();
    const w = await worker(steps);
    const day = '2026-11-05';
    await w.runUntil(async () => {
      const queue = w.options.taskQueue;
      const [a, b] = await Promise.all([arrive(queue, day, 'hive-001'), arrive(queue, day, 'hive-002')]);
      expect(a).toEqual(b);
      expect(a.workflowId).toBe(`sensor-clustering/${day}`);
      await steps.featuresStarted(1);

      // hive-003 lands while features run: the same run reruns them (the first attempt is cancelled).
      const c = await arrive(queue, day, 'hive-003');
      expect(c).toEqual(a);
      await steps.featuresStarted(2);
      steps.release();
      const handle = env.client.workflow.getHandle(a.workflowId, a.runId);
      expect((await handle.result()).state).toBe('succeeded');
      const status = await handle.query(statusQuery);
      expect(status.steps.find((s) => s.id === 'features')?.state).toBe('succeeded');
      expect(steps.starts).toHaveLength(2);
      expect(status.operatorActions.map((action) => action.payload)).toContainEqual({
        step: 'features',
        reason: 'arrived: hive-003',
      });
      expect(steps.inferences).toBe(1);

      // hive-004 is late: the day's run is over, so a follow-up run of the same day starts.
      const late = await arrive(queue, day, 'hive-004');
      expect(late.workflowId).toBe(a.workflowId);
      expect(late.runId).not.toBe(a.runId);
      const followUp = env.client.workflow.getHandle(late.workflowId, late.runId);
      expect((await followUp.result()).state).toBe('succeeded');
      expect(steps.inferences).toBe(2);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
    });
  });

  it('the daily schedule’s action joins the run of its day instead of starting another', async () => {
    const steps = new SensorSteps();
    const w = await worker(steps);
    await w.runUntil(async () => {
      const queue = w.options.taskQueue;
      const trigger = await env.client.workflow.start(joinDailyRun, {
        args: [
          {
            pipeline: 'sensor-clustering',
            rerunFrom: sensorClusteringDaily.rerunFrom,
            startedBy: 'schedule:sensor-clustering-daily (set by ops)',
          },
        ],
        workflowId: `sensor-clustering-daily-${randomUUID()}`,
        taskQueue: queue,
      });
      // No result() while features block: waiting on a result lets the time-skipping server jump
      // past the blocked activity's heartbeat timeout.
      await steps.featuresStarted(1);
      while ((await trigger.describe()).status.name !== 'COMPLETED');
      const scheduled = await trigger.result();
      const day = scheduled.workflowId.split('/')[1] as string;
      expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const arrival = await arrive(queue, day, 'hive-001');
      expect(arrival).toEqual(scheduled);
      await steps.featuresStarted(2);
      steps.release();
      const handle = env.client.workflow.getHandle(arrival.workflowId, arrival.runId);
      const result = await handle.result();
      expect(result.state).toBe('succeeded');
      expect(result.cutoff).toBe(day);
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

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevServerEnv } from '../harness/temporal';
import { createEchoWorker, echoFanOut, echoMap, runAndMeasure } from './fixtures/wide';

// Over Temporal's real limits on the dev server: a 1,000-wide DAG used to fail (CurrentStep over
// 2 KB) and 3,000 pending activities hang; a 2,500-item map must keep every history under 10,000
// events. Each run takes tens of seconds on two loaded cores, hence the timeouts.
describe('wide runs on the dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a 1,000-wide static DAG to the end, history under 10,000 events', async () => {
    const pipeline = echoFanOut(1000);
    const worker = await createEchoWorker(env, [pipeline]);
    const figures = await worker.runUntil(runAndMeasure(env, worker, pipeline));
    expect(figures.summary.state).toBe('succeeded');
    expect(Object.values(figures.summary.steps).filter((s) => s.state === 'succeeded')).toHaveLength(1001);
    expect(figures.largestHistory).toBeLessThan(10_000);
  }, 300_000);

  it('runs a 2,500-item map in batch children, every history under 10,000 events', async () => {
    const pipeline = echoMap(2500, 500);
    const worker = await createEchoWorker(env, [pipeline]);
    const figures = await worker.runUntil(runAndMeasure(env, worker, pipeline));
    expect(figures.summary.state).toBe('succeeded');
    expect(figures.summary.steps.each?.map).toMatchObject({ total: 2500, succeeded: 2500, failed: 0 });
    // 2,500 items in children of at most 500: the parent grows with batches, not items.
    expect(figures.histories.length).toBe(6);
    expect(figures.largestHistory).toBeLessThan(10_000);
    expect(figures.histories[0]?.events).toBeLessThan(200);
  }, 300_000);
});

import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline } from '../../pipelines';
import { RunnerErrorType } from '../../workflows/definitions';
import { createTimeSkippingEnv } from '../harness/temporal';
import { StepScript, startRun } from './run-pipeline-harness';

/** `width` independent steps, then one that joins them. */
function wide(name: string, width: number) {
  const builder = definePipeline(name);
  const ids = Array.from({ length: width }, (_, i) => `s${i}`);
  for (const id of ids) builder.step(id, { kind: 'script', retry: { maximumAttempts: 1 } });
  return builder.step('join', { kind: 'script', after: ids }).build();
}

describe('runPipeline bounded scheduler', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('never executes more than maxParallel steps at once, and still runs them all', async () => {
    const script = new StepScript();
    let executing = 0;
    let started = 0;
    let peak = 0;
    for (let i = 0; i < 12; i++) {
      script.behave(`s${i}`, async () => {
        executing += 1;
        started += 1;
        peak = Math.max(peak, executing);
        // Hold each step until three run at once (or all have started): without the bound all 12
        // would be running here; with it, never a fourth. No timing involved.
        while (executing < 3 && started < 12) await new Promise((resolve) => setTimeout(resolve, 5));
        executing -= 1;
      });
    }
    const { worker, handle } = await startRun(env, script, wide('wide-bounded', 12), { maxParallel: 3 });
    const result = await worker.runUntil(handle.result());
    expect(peak).toBe(3);
    expect(Object.values(result.steps).every((step) => step.state === 'succeeded')).toBe(true);
    expect(script.started('join')).toBe(1);
  });

  it('refuses a maxParallel outside 1–1000 at planning, with a typed failure', async () => {
    const script = new StepScript();
    const { worker, handle } = await startRun(env, script, wide('wide-refused', 2), { maxParallel: 5000 });
    const error = await worker.runUntil(
      handle.result().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(failure.type).toBe(RunnerErrorType.InvalidParameters);
    expect(failure.message).toMatch(/maxParallel 5000 must be an integer from 1 to 1000/);
    expect(script.started('s0')).toBe(0);
  });
});

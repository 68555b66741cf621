import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateKind } from '../../activities/kinds/basic';
import { modelProgram } from '../../activities/kinds/program';
import { createPlanActivities, resolvePlan } from '../../activities/plan';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import { approveSignal, rerunFromSignal, statusQuery, type RunStatus } from '../../workflows/definitions';
import { runPipeline } from '../../workflows/run-pipeline';
import { looseKind } from '../harness/kinds';
import { testTempDir } from '../harness/paths';
import { createTimeSkippingEnv } from '../harness/temporal';
import { StepScript, waitForStatus } from './run-pipeline-harness';

/**
 * Keys are made once, by the plan in the run's history. A run in flight whose program files change
 * under it (a deploy of an unpinned build, or a new key formula) keeps its keys: a `rerunFrom` with
 * `keepCached` finds its outputs `cached` instead of losing them, while a new plan sees the change.
 */

const once = { retry: { maximumAttempts: 1 } };
/** The plan's view of the `script` stand-in: it runs models/m (unpinned: this build's copy). */
const kinds = [
  { ...looseKind('script'), program: () => modelProgram('models', ['models/m/train.py']) },
  gateKind,
];
const pipeline = definePipeline('program-keys')
  .step('train', { kind: 'script', outputs: ['model'], cache: true, ...once })
  .step('predict', { kind: 'script', after: ['train'], outputs: ['table'], cache: true, ...once })
  .step('hold', { kind: 'gate', after: ['predict'], approval: true })
  .build();
const step = (status: RunStatus, id: string) => status.steps.find((s) => s.id === id);

describe('a run in flight keeps the keys it was planned with', () => {
  let env: TestWorkflowEnvironment;
  let build: string;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    build = testTempDir('inflight-build');
    mkdirSync(join(build, 'models', 'm'), { recursive: true });
    writeFileSync(join(build, 'models', 'm', 'train.py'), 'print("v1")\n');
  });
  afterAll(async () => {
    await env?.teardown();
    if (build) rmSync(build, { recursive: true, force: true });
  });

  it('a keepCached rerun after the program changed finds its outputs cached; a new plan re-keys', async () => {
    const script = new StepScript();
    const pipelines = createPipelineRegistry([pipeline]);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `program-keys-${randomUUID()}`,
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'run-pipeline.ts'),
      activities: {
        ...createPlanActivities({ pipelines, kinds, buildRoot: build }),
        ...script.activities(),
      },
    });
    const handle = await env.client.workflow.start(runPipeline, {
      args: [{ pipeline: pipeline.name, cutoff: '2026-01-01' }],
      workflowId: `program-keys/${randomUUID()}`,
      taskQueue: worker.options.taskQueue,
    });
    await worker.runUntil(async () => {
      const first = await waitForStatus(handle, (s) => step(s, 'hold')?.state === 'awaiting-decision');
      const planned = first.plan?.steps ?? [];
      for (const planStep of planned)
        for (const name of Object.values(planStep.outputs)) script.existing.add(name);

      // The build's program changes under the run (a deploy).
      appendFileSync(join(build, 'models', 'm', 'train.py'), 'print("v2")\n');
      await handle.signal(rerunFromSignal, { step: 'train', keepCached: true, reason: 'arrival' });
      const again = await waitForStatus(
        handle,
        (s) => step(s, 'train')?.state === 'cached' && step(s, 'predict')?.state === 'cached',
      );
      expect(step(again, 'train')?.cacheKey).toBe(step(first, 'train')?.cacheKey);
      expect(script.started('train')).toBe(1);
      expect(script.started('predict')).toBe(1);

      // A plan made now (a new run, a dry run) sees the new program.
      const fresh = await resolvePlan(
        { pipelines, kinds, buildRoot: build },
        {
          pipeline: pipeline.name,
          workflowId: 'program-keys/dry',
          startTime: new Date().toISOString(),
          cutoff: '2026-01-01',
        },
      );
      const freshKey = (id: string) => fresh.steps.find((s) => s.id === id)?.cacheKey;
      expect(freshKey('train')).not.toBe(step(first, 'train')?.cacheKey);
      expect(freshKey('predict')).not.toBe(step(first, 'predict')?.cacheKey);

      await handle.signal(approveSignal, { step: 'hold' });
      expect((await handle.result()).state).toBe('succeeded');
      expect((await handle.query(statusQuery)).steps.map((s) => [s.id, s.cacheKey])).toEqual(
        first.steps.map((s) => [s.id, s.cacheKey]),
      );
    });
  });
});

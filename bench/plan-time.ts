// Time to plan the biggest pipeline (visits-scaling) with the worker's real kinds: pinned to this
// checkout's HEAD (git reads per step) and with no step pinned (this build's files hashed).
// Prints the median and the slowest of N plans after one warm-up; asserts nothing.
//
//   npm run bench -- plan-time [--plans 20]
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildRoot } from '../activities/code-files';
import { resolvePlan } from '../activities/plan';
import { createPipelineRegistry } from '../pipelines';
import type { PipelineDefinition } from '../pipelines/core/types';
import { visitsScalingPipeline } from '../pipelines/visits-scaling/pipeline';
import { stepKinds } from '../workers/kinds';

const arg = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
};

async function figures(definition: PipelineDefinition, params: Record<string, string>, plans: number) {
  const pipelines = createPipelineRegistry([definition]);
  const once = async (i: number) => {
    const started = performance.now();
    await resolvePlan(
      { pipelines, kinds: stepKinds },
      {
        pipeline: definition.name,
        workflowId: `${definition.name}/bench-${i}`,
        startTime: '2026-11-23T09:00:00.000Z',
        cutoff: '2026-01-01',
        params,
      },
    );
    return performance.now() - started;
  };
  await once(-1);
  const times: number[] = [];
  for (let i = 0; i < plans; i++) times.push(await once(i));
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] ?? 0, max: times[times.length - 1] ?? 0 };
}

async function main(): Promise<void> {
  const plans = Number(arg('--plans', '20'));
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ${plans} plans each`,
  );
  const steps = visitsScalingPipeline.steps;
  const pinned = await figures(visitsScalingPipeline, { models_repo: buildRoot, models_ref: 'HEAD' }, plans);
  const unpinnedDefinition: PipelineDefinition = {
    ...visitsScalingPipeline,
    steps: steps.map(({ repo: _repo, ...step }) => step),
  };
  const unpinned = await figures(unpinnedDefinition, {}, plans);
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  console.log(
    `visits-scaling (${steps.length} steps), pinned:   median ${ms(pinned.median)}, max ${ms(pinned.max)}`,
  );
  console.log(
    `visits-scaling (${steps.length} steps), unpinned: median ${ms(unpinned.median)}, max ${ms(unpinned.max)}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * mapBatch: runs up to 500 items of one map step for its parent runPipeline (docs/map-steps.md), so
 * the parent's history grows with batches, not items, and no history passes ~10,000 events. Items
 * run `concurrency` at a time; each is cache-checked (a step with `cache`), then dispatched like a
 * step of the map step's kind. An item's failure is a result, never the child's failure.
 */
import { isCancellation } from '@temporalio/workflow';
import type { StepExecution } from '../activities/steps';
import { fillItemTemplates, itemCacheKey, itemOutputs } from '../pipelines/core/map';
import type { JsonValue, PlannedStep } from '../pipelines/core/types';
import type { VmUsage } from './cost';
import type { ItemState } from './definitions';
import { checkOutputs, dispatchStep } from './runner/dispatch';
import { errorMessage } from './runner/run-context';

export interface MapBatchItem {
  index: number;
  value: JsonValue;
  attempt: number;
  /** Run even when the item's outputs exist (rerunFrom). */
  force: boolean;
}

export interface MapBatchInput {
  /** The map step as planned (without its item list). */
  step: Omit<PlannedStep, 'map'>;
  /** The execution every item starts from: run identity, parameters, upstream outputs. */
  execution: Omit<StepExecution, 'step' | 'outputs' | 'attempt' | 'item'>;
  items: MapBatchItem[];
  concurrency: number;
}

export interface MapItemResult {
  index: number;
  state: Extract<ItemState, 'succeeded' | 'failed' | 'cached'>;
  outputs: Record<string, string>;
  error?: string;
}

export interface MapBatchResult {
  results: MapItemResult[];
  /** VMs the items' trainings used (a `train` map step), for the parent's VM hours and cost. */
  vms?: VmUsage[];
}

export async function mapBatch(input: MapBatchInput): Promise<MapBatchResult> {
  const results: MapItemResult[] = [];
  const vms: VmUsage[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < input.items.length) {
      const item = input.items[next++] as MapBatchItem;
      results.push(await runItem(input, item, (used) => vms.push(...used)));
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(input.concurrency, input.items.length)) }, worker),
  );
  return { results: results.sort((a, b) => a.index - b.index), ...(vms.length > 0 ? { vms } : {}) };
}

async function runItem(
  input: MapBatchInput,
  item: MapBatchItem,
  onVmUsage: (vms: VmUsage[]) => void,
): Promise<MapItemResult> {
  const key = itemCacheKey(input.step.cacheKey, item.value);
  const outputs = itemOutputs(input.step.outputs, key);
  let spec: PlannedStep['spec'];
  try {
    spec = fillItemTemplates(input.step.spec, item.value);
  } catch (error) {
    return { index: item.index, state: 'failed', outputs: {}, error: errorMessage(error) };
  }
  const planned: PlannedStep = { ...input.step, spec, cacheKey: key, outputs };
  const execution: StepExecution = {
    ...input.execution,
    step: {
      id: input.step.id,
      kind: input.step.kind,
      spec,
      version: input.step.version,
      cacheKey: key,
      ...(input.step.commit ? { commit: input.step.commit } : {}),
      ...(input.step.repo ? { repo: input.step.repo } : {}),
    },
    outputs,
    attempt: item.attempt,
    item: { index: item.index, key, value: item.value },
  };
  try {
    if (planned.cache && !item.force && (await checkOutputs(planned, execution)) === true) {
      return { index: item.index, state: 'cached', outputs };
    }
    const result = await dispatchStep(planned, execution, { onVmUsage });
    return { index: item.index, state: 'succeeded', outputs: result.outputs ?? outputs };
  } catch (error) {
    // The parent cancels the whole batch (abortRun, rerunFrom): the child ends cancelled.
    if (isCancellation(error)) throw error;
    return { index: item.index, state: 'failed', outputs: {}, error: errorMessage(error) };
  }
}

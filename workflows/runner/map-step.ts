import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  executeChild,
  isCancellation,
} from '@temporalio/workflow';
import type { MapItemOutput, StepExecution, StepResult } from '../../activities/steps';
import { MAP_CHILD_ITEMS, MAX_MAP_ITEMS } from '../../pipelines/core/limits';
import { batchSizeFor, shortJson } from '../../pipelines/core/map';
import type { JsonValue, PlannedMap } from '../../pipelines/core/types';
import { RunnerErrorType, type MapProgress } from '../definitions';
import { mapBatch, type MapBatchItem } from '../map-batch';
import { errorMessage, type RunContext } from './run-context';
import type { ItemRecord, StepRecord } from './step-record';

/** Failed items listed by `status` (all are counted). */
const FAILED_ITEMS_SHOWN = 50;

const FINISHED: readonly ItemRecord['state'][] = ['succeeded', 'cached', 'marked-succeeded'];
const SETTLED: readonly ItemRecord['state'][] = [...FINISHED, 'failed'];

/**
 * One attempt of a map step: reads its items (once; retries keep them), runs the pending ones as
 * `mapBatch` children of at most 500 items, `maxConcurrency` items executing at once, and settles
 * when every item has: succeeded when enough did (minSuccessRatio), else MapItemsFailed. Operator
 * item signals wake it through `record.itemsChanged`.
 */
export async function runMapStep(
  run: RunContext,
  record: StepRecord,
  execution: StepExecution,
): Promise<StepResult> {
  const map = record.planned.map as PlannedMap;
  if (!record.items) {
    const values = mapItems(run, record);
    record.items = values.map((value, index) => ({
      index,
      value,
      state: 'pending',
      attempts: record.itemAttempts.get(index) ?? 0,
      outputs: {},
    }));
    record.batchSize = batchSizeFor(map.batchSize, values.length);
  }
  const items = record.items;
  const inflight = new Set<Promise<void>>();
  let budget = map.maxConcurrency;
  let progress = 0;
  try {
    for (;;) {
      for (let chunk = nextChunk(record); chunk && budget > 0; chunk = nextChunk(record)) {
        const concurrency = Math.min(budget, chunk.length);
        budget -= concurrency;
        const promise = runChunk(record, execution, chunk, concurrency).finally(() => {
          budget += concurrency;
          progress += 1;
          inflight.delete(promise);
          run.changed = true;
        });
        inflight.add(promise);
      }
      if (inflight.size === 0 && !items.some((item) => item.state === 'pending')) break;
      const seen = { progress, signals: record.itemsChanged };
      await condition(() => progress !== seen.progress || record.itemsChanged !== seen.signals);
    }
  } catch (error) {
    if (isCancellation(error)) {
      // Cancelled first: the step settles only when its children have stopped their items.
      await CancellationScope.nonCancellable(() => Promise.allSettled([...inflight]));
    }
    throw error;
  }
  return settleMap(record);
}

/** The list to map over: planned, or read from the upstream step's result (`info[field]`). */
function mapItems(run: RunContext, record: StepRecord): JsonValue[] {
  const source = (record.planned.map as PlannedMap).source;
  const invalid = (message: string): never => {
    throw ApplicationFailure.create({
      type: RunnerErrorType.InvalidMapItems,
      message: `step ${record.id}: ${message}`,
      nonRetryable: true,
    });
  };
  if ('items' in source) return source.items;
  const value = run.record(source.step).status.info?.[source.field];
  if (!Array.isArray(value)) {
    return invalid(
      `map.forEach reads info.${source.field} of step ${source.step}, which is ${value === undefined ? 'missing' : `not an array (${shortJson(value as JsonValue, 60)})`}`,
    );
  }
  if (value.length > MAX_MAP_ITEMS)
    return invalid(`step ${source.step} returned ${value.length} items; at most ${MAX_MAP_ITEMS}`);
  return value as JsonValue[];
}

/** The next run of pending items that share a batch, at most MAP_CHILD_ITEMS of them. */
function nextChunk(record: StepRecord): ItemRecord[] | undefined {
  const items = record.items as ItemRecord[];
  const first = items.find((item) => item.state === 'pending');
  if (!first) return undefined;
  const batch = Math.floor(first.index / record.batchSize);
  const chunk: ItemRecord[] = [];
  for (let i = first.index; i < items.length && chunk.length < MAP_CHILD_ITEMS; i++) {
    const item = items[i] as ItemRecord;
    if (Math.floor(i / record.batchSize) !== batch || item.state !== 'pending') break;
    chunk.push(item);
  }
  return chunk;
}

async function runChunk(
  record: StepRecord,
  execution: StepExecution,
  chunk: ItemRecord[],
  concurrency: number,
): Promise<void> {
  for (const item of chunk) {
    item.state = 'running';
    item.attempts += 1;
    delete item.error;
  }
  const first = (chunk[0] as ItemRecord).index;
  const last = (chunk[chunk.length - 1] as ItemRecord).index;
  const batchItems: MapBatchItem[] = chunk.map((item) => ({
    index: item.index,
    value: item.value,
    attempt: item.attempts,
    force: record.forceRun,
  }));
  const { map: _map, reuse: _reuse, ...step } = record.planned;
  const { step: _step, outputs: _outputs, attempt: _attempt, ...base } = execution;
  try {
    const { results, vms } = await executeChild(mapBatch, {
      args: [{ step, execution: base, items: batchItems, concurrency }],
      // Unique within the run: generation (launch of the step) and the first item's attempt.
      workflowId: `${execution.workflowId}/${record.id}/map-${record.generation}-${first}-${chunk[0]?.attempts}`,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      staticSummary: `${record.id}: items ${first}–${last}`,
    });
    if (vms) record.addVmUsage(vms);
    for (const result of results) {
      const item = (record.items as ItemRecord[])[result.index] as ItemRecord;
      item.state = result.state;
      item.outputs = result.outputs;
      if (result.error !== undefined) item.error = result.error;
    }
  } catch (error) {
    const reason = isCancellation(error) ? 'cancelled' : `batch failed: ${errorMessage(error)}`;
    for (const item of chunk) {
      if (item.state === 'running') Object.assign(item, { state: 'failed', error: reason });
    }
    if (isCancellation(error)) throw error;
  }
}

function settleMap(record: StepRecord): StepResult {
  const progress = mapProgress(record);
  const items = record.items as ItemRecord[];
  const finished = progress.succeeded + progress.cached + progress.markedSucceeded;
  const ratio = items.length === 0 ? 1 : finished / items.length;
  const info = { items: items.length, finished, failed: progress.failed };
  if (ratio >= progress.minSuccessRatio) return { outputs: record.planned.outputs, info };
  const examples = progress.failedItems
    .slice(0, 3)
    .map((item) => `#${item.index} ${item.item}: ${item.error}`)
    .join('; ');
  throw ApplicationFailure.create({
    type: RunnerErrorType.MapItemsFailed,
    message: `map: ${progress.failed} of ${items.length} items failed (need ${Math.round(progress.minSuccessRatio * 1000) / 10}% to succeed): ${examples}`,
    nonRetryable: true,
    details: [info],
  });
}

/** Counts of a map step's items, its batches, and its first failed items. */
export function mapProgress(record: StepRecord): MapProgress {
  const items = record.items ?? [];
  const count = (state: ItemRecord['state']) => items.filter((item) => item.state === state).length;
  const batchSize = record.batchSize || 1;
  return {
    total: items.length,
    pending: count('pending'),
    running: count('running'),
    succeeded: count('succeeded'),
    failed: count('failed'),
    cached: count('cached'),
    markedSucceeded: count('marked-succeeded'),
    batches: {
      size: record.batchSize,
      total: Math.ceil(items.length / batchSize),
      finished: finishedBatches(record),
    },
    minSuccessRatio: (record.planned.map as PlannedMap).minSuccessRatio,
    failedItems: items
      .filter((item) => item.state === 'failed')
      .slice(0, FAILED_ITEMS_SHOWN)
      .map((item) => ({
        index: item.index,
        item: shortJson(item.value),
        error: item.error ?? 'failed',
        attempts: item.attempts,
      })),
  };
}

/** Leading batches whose every item has settled (succeeded, cached, marked or failed). */
export function finishedBatches(record: StepRecord): number {
  const items = record.items ?? [];
  if (items.length === 0 || record.batchSize === 0) return 0;
  const total = Math.ceil(items.length / record.batchSize);
  let finished = 0;
  while (
    finished < total &&
    items
      .slice(finished * record.batchSize, (finished + 1) * record.batchSize)
      .every((item) => SETTLED.includes(item.state))
  ) {
    finished += 1;
  }
  return finished;
}

/** Finished items (in order) of the first `batches` batches, or of all. */
export function finishedItems(record: StepRecord, batches?: number): MapItemOutput[] {
  const limit = batches === undefined ? Number.POSITIVE_INFINITY : batches * record.batchSize;
  return (record.items ?? [])
    .filter((item) => item.index < limit && FINISHED.includes(item.state))
    .map((item) => ({ index: item.index, item: item.value, outputs: item.outputs }));
}

// Temporal client calls shared by the API, activities and scripts: no side effects but Temporal's,
// so the API (which imports no activities) and the worker use the same code.
import type { Client } from '@temporalio/client';
import type { JsonPrimitive } from '../pipelines/core/types';
import { rerunFromSignal, runWorkflowId, type RunPipelineInput } from '../workflows/definitions';

/** The workflow type of runs, by name, so callers that never load workflow code can start one. */
const RUN_PIPELINE = 'runPipeline';

/** Something arrived for the run of `runKey` (a sensor's readings for a date): join that run or start it. */
export interface JoinRunInput {
  pipeline: string;
  /** The run's key: the date for daily pipelines, so one day is one workflow id. */
  runKey: string;
  cutoff?: string;
  params?: Record<string, JsonPrimitive>;
  /** The step a running run redoes to take the new input in (e.g. the listing of the day's sensors). */
  rerunFrom: string;
  /** What arrived, kept with the signal in the run's audit trail. */
  reason: string;
  taskQueue: string;
  /** Who starts the run when none is open (an API token's name, `schedule:<id>`). */
  startedBy?: string;
}

export interface JoinRunResult {
  workflowId: string;
  runId: string;
}

/**
 * Signal-with-start on the run's workflow id `<pipeline>/<runKey>`: a running run gets
 * `rerunFrom(step, keepCached)` and takes the new input in (outputs that exist under their keys stay
 * cached, so only new or changed items are computed); otherwise a run
 * starts — the first of the day, or a follow-up after the day's run finished, under the same
 * workflow id (Temporal allows a new run of a closed id, never two open ones). The server does both
 * atomically, so two arrivals at once never start two runs. A new run rejects the signal it was
 * started with (it has no plan yet; its status says so) and simply lists what is there.
 */
export async function joinOrStartRun(client: Client, input: JoinRunInput): Promise<JoinRunResult> {
  const workflowId = runWorkflowId(input.pipeline, input.runKey);
  const args: RunPipelineInput = {
    pipeline: input.pipeline,
    ...(input.params ? { params: input.params } : {}),
    ...(input.cutoff ? { cutoff: input.cutoff } : {}),
    ...(input.startedBy ? { startedBy: input.startedBy } : {}),
  };
  const handle = await client.workflow.signalWithStart(RUN_PIPELINE, {
    workflowId,
    taskQueue: input.taskQueue,
    args: [args],
    signal: rerunFromSignal,
    // Only what changed is computed again: the listing reruns, unchanged steps and items stay cached.
    signalArgs: [{ step: input.rerunFrom, reason: input.reason, keepCached: true }],
  });
  return { workflowId, runId: handle.signaledRunId };
}

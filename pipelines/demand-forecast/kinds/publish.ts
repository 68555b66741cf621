import { z } from 'zod';
import {
  failure,
  modelFileOf,
  PipelineStepErrorType,
  readJson,
  readModelArtifact,
  runLabels,
  type KindDeps,
} from '../../../activities/kinds/common';
import { defineKind } from '../../../activities/kinds/kind';
import { name } from '../../../activities/kinds/schemas';
import type { MapItemOutput, StepExecution } from '../../../activities/steps';
import type { JsonObject, JsonValue } from '../../core';
import { environmentConfigSchema } from '../environments';
import { FORECASTS_TABLE } from '../schema';
import { publishForecasts, type CutoffForecasts, type ForecastRow } from './forecasts-table';

interface ForecastModel {
  cutoff: string;
  forecasts: ForecastRow[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The spec of `forecast_inputs`: the `prepare` map step whose items it joins to their cutoffs. */
export const forecastInputsSpec = z.strictObject({ prepared: name });
/** The spec of `forecast_publish`: the training map step whose models it publishes. */
export const forecastPublishSpec = z.strictObject({ trained: name });

/** The finished items of the map step `step` (spec.`key`; the runner passes them downstream). */
function itemsOf(
  execution: Pick<StepExecution, 'items'> & { step: { id: string } },
  key: string,
  step: string,
): MapItemOutput[] {
  const items = execution.items?.[step];
  if (!items) {
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `step ${execution.step.id}: spec.${key} must name a map step it runs after, got ${JSON.stringify(step)}`,
    );
  }
  return items;
}

/** A cutoff item as the map ran it, checked (it names datasets the handler writes to). */
function cutoffOf(execution: { step: { id: string } }, item: JsonValue) {
  const value = (item ?? {}) as JsonObject;
  const config = environmentConfigSchema.safeParse({
    input_dataset: value.input_dataset,
    output_dataset: value.output_dataset,
    machine_type: value.machine_type,
    vm_template: value.vm_template,
  });
  if (!config.success || typeof value.cutoff !== 'string' || !DATE.test(value.cutoff)) {
    throw failure(
      PipelineStepErrorType.INVALID_SPEC,
      `step ${execution.step.id}: bad cutoff item ${JSON.stringify(item)}`,
    );
  }
  return { cutoff: value.cutoff, ...config.data };
}

/**
 * `forecast_inputs`: the prepared table of each cutoff (the `spec.prepared` map's items) joined to
 * its cutoff item, as `info.cutoffs`, which the training map runs over (`{{item.table}}`).
 */
export const forecastInputsKind = defineKind({
  name: 'forecast_inputs',
  version: '1',
  runs: { by: 'activity' },
  spec: forecastInputsSpec,
  handler: () => ({
    async run(execution) {
      const cutoffs = itemsOf(execution, 'prepared', execution.step.spec.prepared).map(
        ({ item, outputs }) => {
          if (!outputs.table) {
            throw failure(
              PipelineStepErrorType.INVALID_SPEC,
              `step ${execution.step.id}: a prepared item has no table`,
            );
          }
          return { ...cutoffOf(execution, item), table: outputs.table } as JsonObject;
        },
      );
      return { info: { cutoffs } };
    },
  }),
});

/**
 * `forecast_publish`: the forecasts of each finished training (its model artifact, from the
 * `spec.trained` map's items) written to `<output_dataset>.forecasts` of the item's environment,
 * replacing those cutoffs' rows all or nothing (`publishForecasts`: staged, then one transaction), so a
 * cutoff trained again is published again, never twice, and a failure mid-publish leaves the previous
 * forecasts intact. With `eachBatch` it publishes each cutoff as soon as its training has finished.
 */
export const forecastPublishKind = defineKind({
  name: 'forecast_publish',
  version: '2',
  runs: { by: 'activity' },
  spec: forecastPublishSpec,
  handler: (deps: KindDeps) => ({
    async run(execution, context) {
      const entries: CutoffForecasts[] = [];
      for (const { item, outputs } of itemsOf(execution, 'trained', execution.step.spec.trained)) {
        const { cutoff, output_dataset: dataset } = cutoffOf(execution, item);
        const artifact = outputs.model;
        if (!artifact)
          throw failure(PipelineStepErrorType.INVALID_SPEC, `training of ${cutoff} has no model output`);
        const meta = readModelArtifact(deps, artifact);
        const model = readJson<ForecastModel>(modelFileOf(deps, artifact));
        if (!model || model.cutoff !== cutoff) {
          throw failure(
            PipelineStepErrorType.ARTIFACT_MISSING,
            `model ${artifact} holds no forecasts for cutoff ${cutoff} (found ${model?.cutoff ?? 'none'})`,
          );
        }
        entries.push({ cutoff, dataset, model_version: meta.version, forecasts: model.forecasts });
      }
      context.heartbeat({ phase: 'publish', cutoffs: entries.map((entry) => entry.cutoff) });
      const staged = await publishForecasts(deps, runLabels(execution), entries);
      const published: JsonObject[] = staged.map((entry, index) => ({
        cutoff: entry.cutoff,
        table: `${entry.dataset}.${FORECASTS_TABLE}`,
        rows: entry.rows,
        version: (entries[index] as CutoffForecasts).model_version,
      }));
      return {
        info: {
          published,
          ...(execution.batch ? { batch: execution.batch as unknown as JsonObject } : {}),
        },
      };
    },
  }),
});

import { z } from 'zod';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { readCodeFile } from '../../../activities/code-files';
import { failure, PipelineStepErrorType, type KindDeps } from '../../../activities/kinds/common';
import { defineKind } from '../../../activities/kinds/kind';
import { dateString } from '../../../activities/kinds/schemas';
import type { JsonValue } from '../../core';
import {
  CONFIG_FILE,
  cutoffItems,
  ENVIRONMENTS,
  parseEnvironmentConfig,
  selectCutoffs,
  type CutoffItem,
} from '../environments';
import { CUTOFFS_TABLE } from '../schema';

/** The spec of `forecast_cutoffs`. */
export const forecastCutoffsSpec = z.strictObject({
  /** The environment whose configuration file is read (`'{{environment}}'`). */
  environment: z.enum(ENVIRONMENTS),
  /** That file, from the repository's root. */
  config: z.string().regex(CONFIG_FILE, { error: 'expected a file under pipelines/demand-forecast/config/' }),
  /** Only the last available cutoff, else every one up to `until`. */
  only_last: z.boolean(),
  /** The run's cutoff (`'{{cutoff}}'`): no later refinement cutoff is listed. */
  until: dateString,
});
export type ForecastCutoffsSpec = z.infer<typeof forecastCutoffsSpec>;

/**
 * `forecast_cutoffs`, demand-forecast's first step: reads the environment's configuration file
 * (`spec.config`) at the run's pinned commit (so a run keeps its configuration whatever happens to
 * the checkout; from this build when the step names no repository) and lists the refinement cutoffs
 * available in its input dataset up to `spec.until` (the run's cutoff), all of them or only the last
 * (`spec.only_last`). Its result's `info.cutoffs` is the list the map steps run over, each item
 * carrying its environment's datasets and machine, so the items' cache keys name them.
 */
export const forecastCutoffsKind = defineKind({
  name: 'forecast_cutoffs',
  version: '1',
  runs: { by: 'activity' },
  spec: forecastCutoffsSpec,
  // The configuration's text is in the key of the step (and the plan fails early without the file).
  reads: (spec) => [spec.config],
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    return {
      async run(execution, context) {
        const { config: file, until, only_last: onlyLast, environment } = execution.step.spec;
        const text = await readCodeFile(execution.step, file, context.signal);
        let config;
        try {
          config = parseEnvironmentConfig(file, text);
        } catch (error) {
          throw failure(
            PipelineStepErrorType.INVALID_SPEC,
            `step ${execution.step.id}: ${(error as Error).message}`,
          );
        }
        const rows = await warehouse.queryRows({
          sql: `SELECT DISTINCT cutoff FROM ${tableSql({ dataset: config.input_dataset, table: CUTOFFS_TABLE }, deps.config.BIGQUERY_PROJECT)} WHERE cutoff <= @until ORDER BY cutoff`,
          params: { until: dateParam(until) },
        });
        const available = rows.map((row) =>
          String((row.cutoff as { value?: string })?.value ?? row.cutoff).slice(0, 10),
        );
        const items: CutoffItem[] = cutoffItems(
          environment,
          config,
          selectCutoffs(available, until, onlyLast),
        );
        return {
          info: {
            environment,
            config: file,
            available: available.length,
            cutoffs: items as unknown as JsonValue[],
          },
        };
      },
    };
  },
});

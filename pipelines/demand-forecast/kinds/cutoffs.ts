import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createBigQueryActivities, dateParam } from '../../../activities/bigquery';
import { tableSql } from '../../../activities/bigquery/identifiers';
import { failure, PipelineStepErrorType, type KindDeps } from '../../../activities/kinds/common';
import { projectRoot } from '../../../activities/providers/paths';
import type { StepExecution, StepHandlers } from '../../../activities/steps';
import type { JsonValue } from '../../core';
import {
  CONFIG_FILE,
  cutoffItems,
  parseEnvironmentConfig,
  selectCutoffs,
  type CutoffItem,
} from '../environments';
import { CUTOFFS_TABLE } from '../schema';

const execFileAsync = promisify(execFile);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const invalid = (execution: Pick<StepExecution, 'step'>, message: string) =>
  failure(PipelineStepErrorType.INVALID_SPEC, `step ${execution.step.id}: ${message}`);

/**
 * The configuration file at the run's pinned commit (so a run keeps its configuration whatever
 * happens to the checkout), or from this checkout when the step names no repository.
 */
async function readConfigText(execution: StepExecution, file: string): Promise<string> {
  const { repo, commit } = execution.step;
  try {
    if (repo && commit) {
      const { stdout } = await execFileAsync('git', ['-C', repo.url, 'show', `${commit}:${file}`]);
      return stdout;
    }
    return await readFile(join(projectRoot, file), 'utf8');
  } catch (error) {
    throw invalid(
      execution,
      `cannot read ${file}${commit ? ` at ${commit}` : ''}: ${(error as Error).message}`,
    );
  }
}

/**
 * `forecast_cutoffs`, demand-forecast's first step: reads the environment's configuration file
 * (`spec.config`, chosen by the `environment` parameter) and lists the refinement cutoffs available
 * in its input dataset up to `spec.until` (the run's cutoff), all of them or only the last
 * (`spec.only_last`). Its result's `info.cutoffs` is the list the map steps run over, each item
 * carrying its environment's datasets and machine, so the items' cache keys name them.
 */
export function cutoffsStepHandlers(deps: KindDeps): StepHandlers {
  const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
  return {
    forecast_cutoffs: {
      async run(execution) {
        const { config: file, until, only_last: onlyLast, environment } = execution.step.spec;
        if (typeof file !== 'string' || !CONFIG_FILE.test(file))
          throw invalid(
            execution,
            `spec.config must be a file under pipelines/demand-forecast/config/, got ${JSON.stringify(file)}`,
          );
        if (typeof until !== 'string' || !DATE.test(until))
          throw invalid(execution, 'spec.until must be a date');
        if (typeof onlyLast !== 'boolean') throw invalid(execution, 'spec.only_last must be a boolean');
        let config;
        try {
          config = parseEnvironmentConfig(file, await readConfigText(execution, file));
        } catch (error) {
          if ((error as { type?: string }).type) throw error;
          throw invalid(execution, (error as Error).message);
        }
        const rows = await warehouse.queryRows({
          sql: `SELECT DISTINCT cutoff FROM ${tableSql({ dataset: config.input_dataset, table: CUTOFFS_TABLE }, deps.config.BIGQUERY_PROJECT)} WHERE cutoff <= @until ORDER BY cutoff`,
          params: { until: dateParam(until) },
        });
        const available = rows.map((row) =>
          String((row.cutoff as { value?: string })?.value ?? row.cutoff).slice(0, 10),
        );
        const items: CutoffItem[] = cutoffItems(
          String(environment ?? ''),
          config,
          selectCutoffs(available, until, onlyLast),
        );
        return {
          info: {
            environment: String(environment ?? ''),
            config: file,
            available: available.length,
            cutoffs: items as unknown as JsonValue[],
          },
        };
      },
    },
  };
}

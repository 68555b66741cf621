import type { BigQuery } from '@google-cloud/bigquery';
import type { JsonValue } from '../../pipelines/core';
import type { StepExecution, StepHandlers } from '../steps';
import { BigQueryErrorType, bigQueryFailure } from './errors';
import { type TableRef } from './identifiers';
import { dateParam, type QueryParams } from './query';
import { tableOps } from './tables';
import type { BigQueryActivitiesConfig } from './context';
import { renderSqlFile } from './sql';

const isoDate = /^\d{4}-\d{2}-\d{2}$/;

/** `dataset.table` or `project.dataset.table` (the plan's physical names) as a reference. */
export function parseTableName(name: string): TableRef {
  const parts = name.split('.');
  if (parts.length === 2) return { dataset: parts[0] as string, table: parts[1] as string };
  if (parts.length === 3)
    return { project: parts[0], dataset: parts[1] as string, table: parts[2] as string };
  throw bigQueryFailure(
    BigQueryErrorType.INVALID_IDENTIFIER,
    `table name ${JSON.stringify(name)} is not dataset.table`,
  );
}

/** A table of the spec: a literal name, or `{ step, output }` naming an upstream step's output. */
function resolveTableSpec(value: JsonValue, execution: StepExecution, placeholder: string): TableRef {
  if (typeof value === 'string') return parseTableName(value);
  if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.step === 'string') {
    const output = typeof value.output === 'string' ? value.output : 'table';
    const name = execution.inputs[value.step]?.[output];
    if (!name) {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `step ${execution.step.id}: table {{${placeholder}}} refers to ${value.step}.${output}, which is not an output of a step it runs after`,
      );
    }
    return parseTableName(name);
  }
  throw bigQueryFailure(
    BigQueryErrorType.INVALID_REQUEST,
    `step ${execution.step.id}: bad table {{${placeholder}}}`,
  );
}

/** Spec params: `YYYY-MM-DD` strings become DATEs, other JSON values keep their type; @cutoff is always there. */
function specParams(execution: StepExecution): QueryParams {
  const params: QueryParams = { cutoff: dateParam(execution.cutoff) };
  const given = execution.step.spec.params;
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    for (const [name, value] of Object.entries(given)) {
      if (typeof value === 'string' && isoDate.test(value)) params[name] = dateParam(value);
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        params[name] = value;
      else
        throw bigQueryFailure(
          BigQueryErrorType.INVALID_REQUEST,
          `step ${execution.step.id}: param ${name} is not a scalar`,
        );
    }
  }
  return params;
}

/**
 * The `sql` step kind: `spec.sql` is a file's path from the repository root
 * (`pipelines/visits-scaling/sql/quality_labels.sql`), whose
 * `{{placeholders}}` are filled from `spec.tables` (literal `dataset.table` names, or
 * `{ step, output }` for an upstream step's output) and whose `@params` come from `spec.params` plus
 * `@cutoff`, the run's cutoff. The result goes to the step's planned output `table` (named from its
 * cache key), labelled with the run; `outputsExist` also pushes a reused table's expiration out, so a
 * cached table cannot expire in the middle of a long run.
 */
export function bigQueryStepHandlers(bigquery: BigQuery, config: BigQueryActivitiesConfig): StepHandlers {
  const ops = tableOps({ bigquery, config });
  const outputOf = (execution: Pick<StepExecution, 'outputs' | 'step'>): TableRef => {
    const name = execution.outputs.table ?? Object.values(execution.outputs)[0];
    if (!name)
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `step ${execution.step.id} declares no output table`,
      );
    return parseTableName(name);
  };

  return {
    sql: {
      async run(execution, context) {
        const file = execution.step.spec.sql;
        if (typeof file !== 'string') {
          throw bigQueryFailure(
            BigQueryErrorType.INVALID_REQUEST,
            `step ${execution.step.id}: spec.sql must name a file`,
          );
        }
        const tablesSpec = execution.step.spec.tables;
        const tables = Object.fromEntries(
          Object.entries(
            tablesSpec && typeof tablesSpec === 'object' && !Array.isArray(tablesSpec) ? tablesSpec : {},
          ).map(([placeholder, value]) => [placeholder, resolveTableSpec(value, execution, placeholder)]),
        );
        const destination = outputOf(execution);
        if (destination.dataset.startsWith(config.SCRATCH_DATASET_PREFIX)) {
          await ops.ensureDataset(destination.dataset, config.SCRATCH_EXPIRATION_DAYS);
        }
        context.heartbeat({ phase: 'query', table: ops.name(destination) });
        const labels = {
          run_id: execution.workflowId,
          pipeline: execution.pipeline,
          step: execution.step.id,
        };
        await ops.createTableAs(
          destination,
          renderSqlFile(file, tables, config.BIGQUERY_PROJECT),
          specParams(execution),
          labels,
        );
        await ops.setLabels(destination, labels);
        const rows = await ops.countRows(destination);
        return { info: { rows, table: ops.name(destination), createdTables: [ops.name(destination)] } };
      },

      async outputsExist(execution) {
        for (const name of Object.values(execution.outputs)) {
          const ref = parseTableName(name);
          if (!(await ops.describe(ref)).exists) return false;
          if (ref.dataset.startsWith(config.SCRATCH_DATASET_PREFIX)) {
            await ops.extendExpiration(ref, config.SCRATCH_EXPIRATION_DAYS);
          }
        }
        return true;
      },
    },
  };
}

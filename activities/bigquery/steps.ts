import { z } from 'zod';
import { readCodeFile } from '../code-files';
import type { KindDeps } from '../kinds/common';
import { defineKind } from '../kinds/kind';
import type { StepExecution, TypedExecution } from '../steps';
import { BigQueryErrorType, bigQueryFailure } from './errors';
import { type TableRef } from './identifiers';
import { dateParam, type QueryParams } from './query';
import { tableOps } from './tables';
import { isSqlPath, renderSql } from './sql';

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

/** A table of a `sql` spec: a literal `dataset.table`, or `{ step, output }` naming an upstream step's output. */
const tableSpec = z.union([
  z.string().min(1),
  z.strictObject({ step: z.string().min(1), output: z.string().min(1).default('table') }),
]);
const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** The spec of the `sql` kind. */
export const sqlSpec = z.strictObject({
  /** The query's file, from the root of the step's repository (`pipelines/<name>/sql/<file>.sql`). */
  sql: z.string().refine(isSqlPath, { error: 'expected a path like pipelines/<name>/sql/<file>.sql' }),
  /** `{{placeholder}}` → table. */
  tables: z.record(z.string(), tableSpec).default({}),
  /** `@name` → value; `YYYY-MM-DD` strings are DATEs. The cutoff, too, comes only from here (`'{{cutoff}}'`). */
  params: z.record(z.string(), scalar).default({}),
  /**
   * The day the source data is taken as of (`'{{cutoff}}'`), for a query over growing sources that
   * no parameter bounds (features up to the end of the predictions): not read by the query, it makes
   * each quarter's table its own in the cache key.
   */
  as_of: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date YYYY-MM-DD' })
    .optional(),
});
export type SqlSpec = z.infer<typeof sqlSpec>;

function resolveTable(
  value: SqlSpec['tables'][string],
  execution: Pick<TypedExecution<SqlSpec>, 'inputs' | 'step'>,
  placeholder: string,
): TableRef {
  if (typeof value === 'string') return parseTableName(value);
  const name = execution.inputs[value.step]?.[value.output];
  if (!name) {
    throw bigQueryFailure(
      BigQueryErrorType.INVALID_REQUEST,
      `step ${execution.step.id}: table {{${placeholder}}} refers to ${value.step}.${value.output}, which is not an output of a step it runs after`,
    );
  }
  return parseTableName(name);
}

/** Spec params as query parameters: `YYYY-MM-DD` strings become DATEs, other values keep their type. */
export function sqlParams(params: SqlSpec['params']): QueryParams {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      typeof value === 'string' && isoDate.test(value) ? dateParam(value) : value,
    ]),
  );
}

/**
 * The `sql` step kind: `spec.sql` is a file of the step's repository, read at the commit the plan
 * pinned (or from this build when the step names no repository), whose `{{placeholders}}` are filled
 * from `spec.tables` and whose `@params` come from `spec.params` only. The result goes to the step's
 * planned output `table` (named from its cache key, which covers the file's text), labelled with the
 * run; `outputsExist` also pushes a reused table's expiration out, so a cached table cannot expire
 * in the middle of a long run.
 */
export const sqlKind = defineKind({
  name: 'sql',
  version: '2',
  runs: { by: 'activity' },
  spec: sqlSpec,
  reads: (spec) => [spec.sql],
  handler: (deps: Pick<KindDeps, 'bigquery' | 'config'>) => {
    const { config } = deps;
    const ops = tableOps({ bigquery: deps.bigquery, config });
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
      async run(execution, context) {
        const { spec } = execution.step;
        const tables = Object.fromEntries(
          Object.entries(spec.tables).map(([placeholder, value]) => [
            placeholder,
            resolveTable(value, execution, placeholder),
          ]),
        );
        const source = await readCodeFile(execution.step, spec.sql, context.signal);
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
          renderSql(source, tables, config.BIGQUERY_PROJECT, spec.sql),
          sqlParams(spec.params),
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
    };
  },
});

import type { BigQuery } from '@google-cloud/bigquery';
import { BigQueryErrorType, bigQueryFailure, withBigQueryErrors } from './bigquery/errors';
import { scratchDatasetName, type TableRef } from './bigquery/identifiers';
import { runQueryJob, toClientParams, type QueryParams } from './bigquery/query';
import { toJsonRow } from './bigquery/rows';
import { tableOps, type TableDescription, type WriteDisposition } from './bigquery/tables';
import { promotionOps, type PromotionPlan, type StagePromotionInput } from './bigquery/promotion';
import { fileOps } from './bigquery/files';
import type { BigQueryActivitiesConfig, RunLabels } from './bigquery/context';

export { runQueryJob, dateParam, type QueryParams, type QueryParamValue } from './bigquery/query';
export { BigQueryErrorType } from './bigquery/errors';
export { cacheKeyTableName, scratchDatasetName, type TableRef } from './bigquery/identifiers';
export type { BigQueryActivitiesConfig, RunLabels } from './bigquery/context';
export type { TableDescription } from './bigquery/tables';
export type { PromotionEntry, PromotionPlan, StagePromotionInput, StagedTable } from './bigquery/promotion';
export type { ExportToFileInput, LoadFromFileInput } from './bigquery/files';

export interface QueryToTableInput {
  /** One SELECT (no trailing statement); values come in through `params` as `@name`. */
  sql: string;
  params?: QueryParams;
  destination: TableRef;
  labels: RunLabels;
}

export interface QueryToTableResult {
  table: Required<TableRef>;
  rows: number;
  labels: Record<string, string>;
  /** The tables this call created: the run adds them to its own record, which cleanup works from. */
  createdTables: Required<TableRef>[];
}

/**
 * The warehouse activities (BigQuery or the local emulator, through the same client). Every failure
 * is an `ApplicationFailure` typed by `BigQueryErrorType`, naming the table or the query; errors a
 * retry cannot fix are non-retryable. Every call that creates tables returns them in
 * `createdTables`: labels and dataset expiration are a safety net, not the record.
 */
export function createBigQueryActivities(bigquery: BigQuery, config: BigQueryActivitiesConfig) {
  const ctx = { bigquery, config };
  const ops = tableOps(ctx);
  const promotion = promotionOps(ops, config.BIGQUERY_PROJECT);
  const files = fileOps(ctx, ops);
  const name = ops.name;

  return {
    /**
     * Creates the pipeline's scratch dataset (`smc_<pipeline>`) with the default table expiration,
     * or sets that expiration on an existing one. Only `SCRATCH_DATASET_PREFIX` datasets qualify.
     */
    async ensureScratchDataset(input: { pipeline: string }): Promise<{ dataset: string; created: boolean }> {
      const dataset = scratchDatasetName(config.SCRATCH_DATASET_PREFIX, input.pipeline);
      const { created } = await ops.ensureDataset(dataset, config.SCRATCH_EXPIRATION_DAYS);
      return { dataset, created };
    },

    /** Writes a query's rows into `destination` (replacing it), then labels it with the run's labels. */
    async queryToTable(input: QueryToTableInput): Promise<QueryToTableResult> {
      const { table } = ops.handle(input.destination);
      await ops.createTableAs(table, input.sql, input.params, input.labels);
      const labels = await ops.setLabels(table, input.labels);
      return { table, rows: await ops.countRows(table), labels, createdTables: [table] };
    },

    /** Runs a DML statement (INSERT … SELECT, MERGE, DELETE), e.g. a gap fill of production tables. */
    async runStatement(input: {
      sql: string;
      params?: QueryParams;
      what?: string;
    }): Promise<{ affectedRows: number }> {
      const { params, types } = toClientParams(bigquery, input.params);
      const what = input.what ?? `statement ${input.sql.slice(0, 80)}`;
      const [job] = await withBigQueryErrors(
        what,
        async () => {
          const [created] = await bigquery.createQueryJob({
            query: input.sql,
            params,
            types,
            location: config.BIGQUERY_LOCATION,
          });
          await created.getQueryResults();
          return created.getMetadata();
        },
        'query',
      );
      return { affectedRows: Number(job.statistics?.query?.numDmlAffectedRows ?? 0) };
    },

    /** Small result sets (metrics, dates, counts) as JSON rows; larger ones belong in `exportToFile`. */
    async queryRows(input: {
      sql: string;
      params?: QueryParams;
      maxRows?: number;
    }): Promise<Record<string, unknown>[]> {
      const maxRows = input.maxRows ?? 10_000;
      const { params, types } = toClientParams(bigquery, input.params);
      const rows = await withBigQueryErrors(
        `query ${input.sql.slice(0, 80)}`,
        () => runQueryJob(bigquery, { query: input.sql, params, types, location: config.BIGQUERY_LOCATION }),
        'query',
      );
      if (rows.length > maxRows) {
        throw bigQueryFailure(
          BigQueryErrorType.INVALID_REQUEST,
          `query returned ${rows.length} rows, more than maxRows=${maxRows}; export it to a file instead`,
        );
      }
      return rows.map(toJsonRow);
    },

    /** Whether a table exists, with its row count, labels, expiration and fields (a cached step's check). */
    async describeTable(input: { table: TableRef }): Promise<TableDescription> {
      return ops.describe(input.table);
    },

    /**
     * Reuses an existing output: fails (TABLE_NOT_FOUND, naming it) if it is gone and pushes its
     * expiration out by `SCRATCH_EXPIRATION_DAYS` (scratch datasets only), so a cached table cannot
     * expire mid-run.
     */
    async keepTable(input: {
      table: TableRef;
    }): Promise<{ table: Required<TableRef>; expiresAt: number | null }> {
      const description = await ops.describe(input.table);
      if (!description.exists) {
        throw bigQueryFailure(
          BigQueryErrorType.TABLE_NOT_FOUND,
          `table ${name(description.table)} not found`,
        );
      }
      // Only scratch tables expire; a table elsewhere (production) must never get an expiration.
      if (!description.table.dataset.startsWith(config.SCRATCH_DATASET_PREFIX)) {
        return { table: description.table, expiresAt: null };
      }
      const expiresAt = await ops.extendExpiration(description.table, config.SCRATCH_EXPIRATION_DAYS);
      return { table: description.table, expiresAt };
    },

    /**
     * One copy job into a run's own table (e.g. a missing upstream table taken from production for a
     * partial rerun), checked to hold the source's rows. Production tables: the promotion.
     */
    async copyTable(input: {
      source: TableRef;
      destination: TableRef;
      labels: RunLabels;
      writeDisposition?: WriteDisposition;
    }): Promise<{ table: Required<TableRef>; rows: number; createdTables: Required<TableRef>[] }> {
      const source = ops.handle(input.source).table;
      const { table } = ops.handle(input.destination);
      const disposition = input.writeDisposition ?? 'WRITE_TRUNCATE';
      const existed = (await ops.describe(table)).exists;
      const before = existed && disposition === 'WRITE_APPEND' ? await ops.countRows(table) : 0;
      const expected = before + (await ops.countRows(source));
      // Replacing starts from no table: the emulator's copy keeps an existing table's columns.
      if (existed && disposition === 'WRITE_TRUNCATE') await ops.remove(table);
      await ops.copy(source, table, disposition);
      await ops.setLabels(table, input.labels);
      const rows = await ops.countRows(table);
      if (rows !== expected) {
        throw bigQueryFailure(
          BigQueryErrorType.CHECK_FAILED,
          `copy ${name(source)} to ${name(table)}: ${rows} rows, expected ${expected}`,
        );
      }
      return { table, rows, createdTables: existed ? [] : [table] };
    },

    /** Deletes tables (the run's record at cleanup); tables already gone are reported, not errors. */
    async deleteTables(input: { tables: TableRef[] }): Promise<{ deleted: string[]; missing: string[] }> {
      const deleted: string[] = [];
      const missing: string[] = [];
      for (const ref of input.tables) {
        const { table } = ops.handle(ref);
        ((await ops.remove(table)) ? deleted : missing).push(name(table));
      }
      return { deleted, missing };
    },

    exportToFile: files.exportToFile,
    loadFromFile: files.loadFromFile,

    /** Promotion phase 1: verify sources, stage copies next to the targets, back up the targets. */
    async stagePromotion(input: StagePromotionInput): Promise<PromotionPlan> {
      return promotion.stage(input);
    },
    /** Promotion phase 2: replace every target; on failure restores them all before failing. */
    async commitPromotion(input: { plan: PromotionPlan }): Promise<{ replaced: string[] }> {
      return promotion.commit(input.plan);
    },
    /** Restores every target of a plan to its backup (or removes it if it did not exist before). */
    async rollbackPromotion(input: {
      plan: PromotionPlan;
    }): Promise<{ restored: string[]; removed: string[] }> {
      return promotion.rollback(input.plan);
    },
    /**
     * All promotion phases in one activity (stage, commit, finish), for a runner that does not call
     * them one by one. Safe to retry after a crash at any point: the targets' earlier state is
     * recorded in the warehouse before the first one is replaced.
     */
    async promoteTables(
      input: StagePromotionInput & { keepBackups?: boolean },
    ): Promise<{ replaced: string[]; plan: PromotionPlan }> {
      return promotion.promote(input);
    },
    /** Promotion phase 3: drops the staging copies, and the backups unless `keepBackups`. */
    async finishPromotion(input: {
      plan: PromotionPlan;
      keepBackups?: boolean;
    }): Promise<{ deleted: string[] }> {
      return promotion.finish(input.plan, input.keepBackups);
    },
  };
}

export type BigQueryActivities = ReturnType<typeof createBigQueryActivities>;

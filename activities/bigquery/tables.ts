import type { TableField } from '@google-cloud/bigquery';
import { BigQueryErrorType, bigQueryFailure, withBigQueryErrors } from './errors';
import { checkIdentifier, labelValue, resolveTable, tableName, tableSql, type TableRef } from './identifiers';
import { runQueryJob, toClientParams, type QueryParams } from './query';
import { dayMs, type BigQueryContext, type RunLabels } from './context';

export interface TableDescription {
  exists: boolean;
  table: Required<TableRef>;
  rows?: number;
  labels?: Record<string, string>;
  /** Epoch milliseconds at which BigQuery deletes the table, when it has an expiration. */
  expiresAt?: number;
  fields?: { name: string; type: string }[];
}

export type WriteDisposition = 'WRITE_TRUNCATE' | 'WRITE_EMPTY' | 'WRITE_APPEND';

/** Table operations shared by the activities (plain functions; the activities wrap them). */
export function tableOps(ctx: BigQueryContext) {
  const project = ctx.config.BIGQUERY_PROJECT;
  const name = (ref: TableRef) => tableName(ref, project);
  const handle = (ref: TableRef) => {
    const table = resolveTable(ref, project);
    return {
      table,
      api: ctx.bigquery.dataset(table.dataset, { projectId: table.project }).table(table.table),
    };
  };

  async function describe(ref: TableRef): Promise<TableDescription> {
    const { table, api } = handle(ref);
    const [exists] = await withBigQueryErrors(`check ${name(table)}`, () => api.exists());
    if (!exists) return { exists: false, table };
    const [metadata] = await withBigQueryErrors(`describe ${name(table)}`, () => api.getMetadata());
    const fields = ((metadata.schema?.fields ?? []) as TableField[]).map((field) => ({
      name: String(field.name),
      type: String(field.type),
    }));
    return {
      exists: true,
      table,
      rows: metadata.numRows === undefined ? undefined : Number(metadata.numRows),
      labels: metadata.labels ?? {},
      expiresAt: metadata.expirationTime ? Number(metadata.expirationTime) : undefined,
      fields,
    };
  }

  /**
   * Counts rows with a query: after a copy into an existing table the emulator's `numRows` metadata is
   * stale, and a count is what a verification should trust anyway.
   */
  async function countRows(ref: TableRef): Promise<number> {
    const sql = `SELECT COUNT(*) AS n FROM ${tableSql(ref, project)}`;
    const [row] = await withBigQueryErrors(`count rows of ${name(ref)}`, () =>
      runQueryJob(ctx.bigquery, sql),
    );
    return Number(row?.n ?? 0);
  }

  /** Sets labels through the tables API (DDL OPTIONS are dropped by the emulator) and reads them back. */
  async function setLabels(ref: TableRef, labels: Record<string, string>): Promise<Record<string, string>> {
    const { table, api } = handle(ref);
    const wanted = Object.fromEntries(Object.entries(labels).map(([key, value]) => [key, labelValue(value)]));
    await withBigQueryErrors(`label ${name(table)}`, () => api.setMetadata({ labels: wanted }));
    const [metadata] = await withBigQueryErrors(`describe ${name(table)}`, () => api.getMetadata());
    const got = (metadata.labels ?? {}) as Record<string, string>;
    const missing = Object.keys(wanted).filter((key) => got[key] !== wanted[key]);
    if (missing.length > 0) {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `labels ${missing.join(', ')} did not stick on ${name(table)} (got ${JSON.stringify(got)})`,
      );
    }
    return got;
  }

  /** `CREATE OR REPLACE TABLE dest AS <select>`: written as SQL because the emulator ignores destinationTable. */
  async function createTableAs(
    destination: TableRef,
    select: string,
    params: QueryParams | undefined,
    labels?: RunLabels,
  ): Promise<void> {
    // Job labels too, so BigQuery's billing export can attribute the query's cost to the run.
    const jobLabels = Object.fromEntries(
      Object.entries(labels ?? {}).map(([key, value]) => [key, labelValue(value)]),
    );
    const body = select.trim().replace(/;\s*$/, '');
    const sql = `CREATE OR REPLACE TABLE ${tableSql(destination, project)} AS\n${body}`;
    const { params: clientParams, types } = toClientParams(ctx.bigquery, params);
    await withBigQueryErrors(
      `query writing ${name(destination)}`,
      () =>
        runQueryJob(ctx.bigquery, {
          query: sql,
          params: clientParams,
          types,
          location: ctx.config.BIGQUERY_LOCATION,
          labels: jobLabels,
        }),
      'query',
    );
  }

  /** One copy job. Real BigQuery replaces the destination atomically with WRITE_TRUNCATE. */
  async function copy(
    source: TableRef,
    destination: TableRef,
    writeDisposition: WriteDisposition,
  ): Promise<void> {
    const src = handle(source);
    const dst = handle(destination);
    await withBigQueryErrors(`copy ${name(src.table)} to ${name(dst.table)}`, () =>
      src.api.copy(dst.api, { writeDisposition, createDisposition: 'CREATE_IF_NEEDED' }),
    );
  }

  /** Deletes a table; false when it was already gone (so cleanup can be retried). */
  async function remove(ref: TableRef): Promise<boolean> {
    const { table, api } = handle(ref);
    try {
      await api.delete();
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      return withBigQueryErrors(`delete ${name(table)}`, () => Promise.reject(error));
    }
  }

  /** Pushes a table's expiration `days` into the future, so a cached output outlives the run using it. */
  async function extendExpiration(ref: TableRef, days: number): Promise<number> {
    const { table, api } = handle(ref);
    const expiresAt = Date.now() + days * dayMs;
    await withBigQueryErrors(`extend expiration of ${name(table)}`, () =>
      api.setMetadata({ expirationTime: String(expiresAt) }),
    );
    return expiresAt;
  }

  async function ensureDataset(
    dataset: string,
    expirationDays: number | undefined,
  ): Promise<{ created: boolean }> {
    checkIdentifier('dataset', dataset);
    const api = ctx.bigquery.dataset(dataset, { projectId: project });
    const expirationMs = expirationDays === undefined ? undefined : String(expirationDays * dayMs);
    const [exists] = await withBigQueryErrors(`check dataset ${dataset}`, () => api.exists());
    if (!exists) {
      try {
        await api.create({ location: ctx.config.BIGQUERY_LOCATION, defaultTableExpirationMs: expirationMs });
        return { created: true };
      } catch (error) {
        // Two steps of one run may create the scratch dataset at once; losing that race is fine.
        if ((error as { code?: number }).code !== 409) {
          await withBigQueryErrors(`create dataset ${dataset}`, () => Promise.reject(error));
        }
      }
    }
    const [metadata] = await withBigQueryErrors(`describe dataset ${dataset}`, () => api.getMetadata());
    if (expirationMs !== undefined && String(metadata.defaultTableExpirationMs ?? '') !== expirationMs) {
      await withBigQueryErrors(`set expiration of dataset ${dataset}`, () =>
        api.setMetadata({ defaultTableExpirationMs: expirationMs }),
      );
    }
    return { created: false };
  }

  return {
    name,
    handle,
    describe,
    countRows,
    setLabels,
    createTableAs,
    copy,
    remove,
    extendExpiration,
    ensureDataset,
  };
}

export type TableOps = ReturnType<typeof tableOps>;

import type { JobLoadMetadata } from '@google-cloud/bigquery';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { BigQueryErrorType, bigQueryFailure, withBigQueryErrors } from './errors';
import { tableSql, type TableRef } from './identifiers';
import { toClientParams, type QueryParams } from './query';
import { toJsonRow } from './rows';
import { activityCancelled, heartbeatIfActivity } from './heartbeat';
import type { BigQueryContext, RunLabels } from './context';
import type { TableOps } from './tables';

export interface ExportToFileInput {
  /** A SELECT whose rows are written; or `table` for all of a table's rows. */
  sql?: string;
  params?: QueryParams;
  table?: TableRef;
  /** Local NDJSON file to write (parent folders are created; written to `.part` then renamed). */
  path: string;
}

/** A load into one of the run's own tables (replaced by default); production tables go through promotion. */
export interface LoadFromFileInput {
  path: string;
  table: TableRef;
  /** Column types; omitted means BigQuery detects them from the file. */
  schema?: { name: string; type: string; mode?: 'NULLABLE' | 'REQUIRED' | 'REPEATED' }[];
  writeDisposition?: 'WRITE_TRUNCATE' | 'WRITE_APPEND';
  labels: RunLabels;
}

/**
 * Moves data between the warehouse and files the VMs read and write. Export runs a query job and
 * streams its rows page by page into NDJSON (works the same on the emulator and BigQuery, where
 * extract jobs could only write to Cloud Storage); load sends NDJSON through a load job.
 */
export function fileOps(ctx: BigQueryContext, ops: TableOps) {
  const project = ctx.config.BIGQUERY_PROJECT;
  const name = ops.name;

  async function exportToFile(
    input: ExportToFileInput,
  ): Promise<{ path: string; rows: number; bytes: number }> {
    if (!input.sql === !input.table) {
      throw bigQueryFailure(BigQueryErrorType.INVALID_REQUEST, 'export: give exactly one of sql or table');
    }
    const sql = input.sql ?? `SELECT * FROM ${tableSql(input.table as TableRef, project)}`;
    const what = input.table ? `export of ${name(input.table)}` : 'export query';
    const { params, types } = toClientParams(ctx.bigquery, input.params);
    const [job] = await withBigQueryErrors(
      what,
      () =>
        ctx.bigquery.createQueryJob({ query: sql, params, types, location: ctx.config.BIGQUERY_LOCATION }),
      'query',
    );
    await mkdir(dirname(input.path), { recursive: true });
    const partial = `${input.path}.part`;
    const out = createWriteStream(partial);
    let rows = 0;
    try {
      await withBigQueryErrors(
        what,
        () =>
          new Promise<void>((resolve, reject) => {
            const stream = job.getQueryResultsStream();
            let stopped = false;
            const stop = (error: unknown) => {
              stopped = true;
              stream.destroy();
              reject(error);
            };
            // Cancellation (it reaches us through heartbeats) stops the download; the partial file goes.
            activityCancelled().catch(stop);
            out.on('error', stop);
            stream.on('error', stop);
            stream.on('end', resolve);
            stream.on('data', (row: Record<string, unknown>) => {
              if (stopped) return;
              rows++;
              if (!out.write(`${JSON.stringify(toJsonRow(row))}\n`)) {
                stream.pause();
                out.once('drain', () => stream.resume());
              }
              if (rows % 1000 === 0) heartbeatIfActivity({ rows });
            });
          }),
        'query',
      );
      out.end();
      await once(out, 'close');
    } catch (error) {
      out.destroy();
      await rm(partial, { force: true });
      throw error;
    }
    await rename(partial, input.path);
    return { path: input.path, rows, bytes: (await stat(input.path)).size };
  }

  async function loadFromFile(
    input: LoadFromFileInput,
  ): Promise<{ table: Required<TableRef>; rows: number; createdTables: Required<TableRef>[] }> {
    const { table, api } = ops.handle(input.table);
    try {
      await stat(input.path);
    } catch {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `load into ${name(table)}: no file ${input.path}`,
      );
    }
    // A replacing load starts from no table: the emulator keeps an existing table's schema (loading
    // rows of NULLs), and these are the run's own tables, never production (see promotion.ts).
    if ((input.writeDisposition ?? 'WRITE_TRUNCATE') === 'WRITE_TRUNCATE') await ops.remove(table);
    const metadata: JobLoadMetadata = {
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      writeDisposition: input.writeDisposition ?? 'WRITE_TRUNCATE',
      createDisposition: 'CREATE_IF_NEEDED',
      ...(input.schema ? { schema: { fields: input.schema } } : { autodetect: true }),
    };
    const [job] = await withBigQueryErrors(`load ${input.path} into ${name(table)}`, () =>
      api.load(input.path, metadata),
    );
    const errors = job.status?.errors ?? [];
    if (job.status?.errorResult || errors.length > 0) {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_REQUEST,
        `load ${input.path} into ${name(table)}: ${JSON.stringify(job.status?.errorResult ?? errors[0])}`,
      );
    }
    await ops.setLabels(table, input.labels);
    return { table, rows: await ops.countRows(table), createdTables: [table] };
  }

  return { exportToFile, loadFromFile };
}

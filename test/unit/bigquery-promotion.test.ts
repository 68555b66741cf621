import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { BigQueryErrorType, bigQueryFailure } from '../../activities/bigquery/errors';
import { tableName, type TableRef } from '../../activities/bigquery/identifiers';
import { promotionOps } from '../../activities/bigquery/promotion';

/** An in-memory warehouse: table name → content tag, row count and labels; copies can be made to fail. */
function fakeWarehouse(
  tables: Record<string, { content: string; rows: number; labels?: Record<string, string> }>,
) {
  const failCopyTo = new Set<string>();
  const key = (ref: TableRef) => tableName(ref, 'proj-test');
  const ops = {
    name: key,
    describe: async (ref: TableRef) => ({
      exists: key(ref) in tables,
      table: { project: 'proj-test', ...ref },
      labels: tables[key(ref)]?.labels ?? {},
      fields: [{ name: 'a', type: 'INTEGER' }],
    }),
    countRows: async (ref: TableRef) => tables[key(ref)]?.rows ?? 0,
    setLabels: async (ref: TableRef, labels: Record<string, string>) => {
      const table = tables[key(ref)];
      if (table) table.labels = { ...labels };
      return labels;
    },
    createTableAs: async (ref: TableRef) => {
      tables[key(ref)] = { content: 'marker', rows: 1 };
    },
    copy: async (from: TableRef, to: TableRef) => {
      if (failCopyTo.has(key(to))) {
        throw bigQueryFailure(BigQueryErrorType.TRANSIENT, `copy to ${key(to)}: backend error`);
      }
      const source = tables[key(from)];
      if (!source) throw bigQueryFailure(BigQueryErrorType.TABLE_NOT_FOUND, `${key(from)} not found`);
      tables[key(to)] = { content: source.content, rows: source.rows };
    },
    remove: async (ref: TableRef) => delete tables[key(ref)],
  };
  return { ops, tables, failCopyTo };
}

const labels = { run_id: 'r', pipeline: 'p', step: 'promote' };

/** A promotion of scratch.<table> over prod.<table> for each of `tables`. */
const promotionInput = (promotionId: string, tables: string[]) => ({
  promotionId,
  labels,
  tables: tables.map((table) => ({
    source: { dataset: 'scratch', table },
    target: { dataset: 'prod', table },
  })),
});

describe('promotion commit (all or nothing)', () => {
  it('restores every replaced table when a later replacement fails, and says so', async () => {
    const { ops, tables, failCopyTo } = fakeWarehouse({
      'prod.a': { content: 'old a', rows: 1 },
      'prod.b': { content: 'old b', rows: 1 },
      'scratch.a': { content: 'new a', rows: 2 },
      'scratch.b': { content: 'new b', rows: 2 },
      'scratch.c': { content: 'new c', rows: 2 },
    });
    const promotion = promotionOps(ops, 'proj-test');
    const plan = await promotion.stage(promotionInput('x1', ['a', 'b', 'c']));
    failCopyTo.add('prod.c');

    const error = (await promotion.commit(plan).catch((caught: unknown) => caught)) as ApplicationFailure;
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error.type).toBe(BigQueryErrorType.TRANSIENT);
    expect(error.message).toContain('rolled back prod.a, prod.b');
    expect(tables['prod.a']?.content).toBe('old a');
    expect(tables['prod.b']?.content).toBe('old b');
    expect(tables['prod.c']).toBeUndefined();

    // The retry (once the warehouse is well again) replaces all three from the untouched staging copies.
    failCopyTo.clear();
    await promotion.commit(plan);
    expect(['a', 'b', 'c'].map((t) => tables[`prod.${t}`]?.content)).toEqual(['new a', 'new b', 'new c']);
  });

  it('reports a failed rollback as a non-retryable check failure naming what was replaced', async () => {
    const { ops, failCopyTo } = fakeWarehouse({
      'prod.a': { content: 'old a', rows: 1 },
      'scratch.a': { content: 'new a', rows: 2 },
      'scratch.b': { content: 'new b', rows: 2 },
    });
    const promotion = promotionOps(ops, 'proj-test');
    const plan = await promotion.stage(promotionInput('x2', ['a', 'b']));
    failCopyTo.add('prod.b');
    const realCopy = ops.copy;
    ops.copy = async (from, to) => {
      // The restore of prod.a from its backup fails as well.
      if (tableName(from, 'proj-test') === 'prod.a__backup_x2') throw new Error('warehouse down');
      return realCopy(from, to);
    };
    const error = (await promotion.commit(plan).catch((caught: unknown) => caught)) as ApplicationFailure;
    expect(error.type).toBe(BigQueryErrorType.CHECK_FAILED);
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/after replacing prod\.a .*rollback failed too/);
  });

  it('keeps the true earlier state when everything runs again after a crash in the middle of a commit', async () => {
    const { ops, tables } = fakeWarehouse({
      'prod.a': { content: 'old a', rows: 1 },
      'prod.b': { content: 'old b', rows: 1 },
      'scratch.a': { content: 'new a', rows: 2 },
      'scratch.b': { content: 'new b', rows: 2 },
      'scratch.c': { content: 'new c', rows: 2 },
    });
    const promotion = promotionOps(ops, 'proj-test');
    const input = promotionInput('x3', ['a', 'b', 'c']);
    await promotion.stage(input);
    // The worker died after the first replacement of a commit.
    await ops.copy({ dataset: 'prod', table: 'a__stage_x3' }, { dataset: 'prod', table: 'a' });
    expect(tables['prod.a']?.content).toBe('new a');

    const { plan } = await promotion.promote({ ...input, keepBackups: true });
    expect(['a', 'b', 'c'].map((t) => tables[`prod.${t}`]?.content)).toEqual(['new a', 'new b', 'new c']);
    // Staging ran again, yet the backups still hold what production held before the promotion.
    await promotion.rollback(plan);
    expect(tables['prod.a']?.content).toBe('old a');
    expect(tables['prod.b']?.content).toBe('old b');
    expect(tables['prod.c']).toBeUndefined();
  });
});

import { BigQueryErrorType, bigQueryFailure } from './errors';
import { resolveTable, type TableRef } from './identifiers';
import { heartbeatIfActivity } from './heartbeat';
import type { RunLabels } from './context';
import type { TableOps } from './tables';

/** One production table to replace by a table the run computed. */
export interface PromotionEntry {
  source: TableRef;
  target: TableRef;
}

export interface StagePromotionInput {
  /** Names the staging and backup tables (`<target>__stage_<id>`); the runner derives it from the run. */
  promotionId: string;
  tables: PromotionEntry[];
  labels: RunLabels;
}

export interface StagedTable {
  source: Required<TableRef>;
  target: Required<TableRef>;
  /** A copy of the source next to the target, verified to hold the source's rows and schema. */
  staging: Required<TableRef>;
  /** A verified copy of the target as it was before the promotion; null when the target did not exist. */
  backup: Required<TableRef> | null;
  /**
   * The durable record of the target's state before the promotion (`<target>__backup_<id>`): the
   * backup itself, or a one-row marker when the target did not exist. Labelled last
   * (`promotion_state` = `verified` / `absent`), so a staging that runs again after a crash keeps
   * it instead of backing up a half-committed target.
   */
  record: Required<TableRef>;
  rows: number;
}

/** What `stagePromotion` returns and the later phases take: the workflow keeps it in its history. */
export interface PromotionPlan {
  promotionId: string;
  tables: StagedTable[];
  /** Every table staging created (staging copies, backups, markers), for the run's record and cleanup. */
  createdTables: Required<TableRef>[];
}

const promotionIdPattern = /^[a-z0-9_]{1,40}$/;

type Fields = { name: string; type: string }[] | undefined;
const sameFields = (a: Fields, b: Fields) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/**
 * Promotion of several production tables, all or nothing, in phases the workflow calls one after the
 * other (its history is the journal, so a crash between phases loses nothing):
 *
 * 1. `stage`: check every source exists (before touching anything), copy each next to its target
 *    and back up each existing target, verifying row counts and schemas. Production is untouched.
 * 2. `commit`: replace each target from its staging copy and verify it. On any error it restores
 *    every target from its backup before failing, so an attempt ends all-new or all-old; a retry
 *    starts over from the staging copies, which never change.
 * 3. `rollback` (also callable by the workflow, e.g. when a later step fails): restore all targets.
 * 4. `finish`: drop the staging copies (and, unless kept, the backups).
 *
 * The guarantee is about the state after each phase, not about readers during the seconds of a
 * commit: BigQuery copy jobs replace one table at a time, so a reader may briefly see table A new
 * and table B old. A worker crash in the middle of `commit` leaves a mix until the retry (or a
 * `rollback`) completes; both are idempotent. The targets' earlier state is recorded in the
 * warehouse (`record`), so even running all phases again from `stage` (one activity doing it all,
 * `promote`) after such a crash keeps the true "before", never the half-committed tables. A
 * promotion id must therefore be unique per promotion (the runner derives it from run and step).
 */
export function promotionOps(
  ops: Pick<TableOps, 'name' | 'describe' | 'countRows' | 'setLabels' | 'copy' | 'remove' | 'createTableAs'>,
  project: string,
) {
  const name = ops.name;
  /**
   * Replaces `target` by `from` and checks it. Same schema: one WRITE_TRUNCATE copy, which BigQuery
   * applies atomically. Changed schema: drop, then copy, on both BigQuery and the emulator (whose
   * copy inserts by position into the old schema, or fails), so readers may find the table missing
   * for the seconds in between; schema changes of production tables are rare.
   */
  async function replace(from: Required<TableRef>, target: Required<TableRef>, rows: number): Promise<void> {
    const expected = await ops.describe(from);
    if (!expected.exists) {
      throw bigQueryFailure(BigQueryErrorType.TABLE_NOT_FOUND, `promotion: ${name(from)} no longer exists`);
    }
    const current = await ops.describe(target);
    if (current.exists && !sameFields(current.fields, expected.fields)) await ops.remove(target);
    await ops.copy(from, target, 'WRITE_TRUNCATE');
    const got = await ops.describe(target);
    const count = await ops.countRows(target);
    if (!sameFields(got.fields, expected.fields) || count !== rows) {
      throw bigQueryFailure(
        BigQueryErrorType.CHECK_FAILED,
        `promotion: ${name(target)} holds ${count} rows with fields ${JSON.stringify(got.fields)} after copying ${name(from)} (${rows} rows, ${JSON.stringify(expected.fields)})`,
      );
    }
  }

  /** Copies into a fresh table (dropping a leftover of an earlier attempt) and checks it. */
  async function freshCopy(
    from: Required<TableRef>,
    to: Required<TableRef>,
    labels: RunLabels,
  ): Promise<number> {
    await ops.remove(to);
    const rows = await ops.countRows(from);
    await replace(from, to, rows);
    await ops.setLabels(to, labels);
    return rows;
  }

  async function stage(input: StagePromotionInput): Promise<PromotionPlan> {
    if (!promotionIdPattern.test(input.promotionId)) {
      throw bigQueryFailure(
        BigQueryErrorType.INVALID_IDENTIFIER,
        `invalid promotion id ${JSON.stringify(input.promotionId)}: expected ${promotionIdPattern.source}`,
      );
    }
    const entries = input.tables.map((entry) => ({
      source: resolveTable(entry.source, project),
      target: resolveTable(entry.target, project),
    }));
    const targets = entries.map((entry) => name(entry.target));
    const duplicate = targets.find((name, index) => targets.indexOf(name) !== index);
    if (duplicate)
      throw bigQueryFailure(BigQueryErrorType.INVALID_REQUEST, `promotion: ${duplicate} is a target twice`);
    const missing: string[] = [];
    for (const entry of entries) {
      if (!(await ops.describe(entry.source)).exists) missing.push(name(entry.source));
    }
    if (missing.length > 0) {
      throw bigQueryFailure(
        BigQueryErrorType.TABLE_NOT_FOUND,
        `promotion ${input.promotionId}: source table(s) not found: ${missing.join(', ')}; no production table was touched`,
      );
    }
    const plan: PromotionPlan = { promotionId: input.promotionId, tables: [], createdTables: [] };
    for (const { source, target } of entries) {
      const staging = { ...target, table: `${target.table}__stage_${input.promotionId}` };
      const rows = await freshCopy(source, staging, input.labels);
      const record = { ...target, table: `${target.table}__backup_${input.promotionId}` };
      const existed = await recordBefore(target, record, input.labels);
      plan.tables.push({ source, target, staging, backup: existed ? record : null, record, rows });
      plan.createdTables.push(staging, record);
      heartbeatIfActivity({ phase: 'stage', done: plan.tables.length });
    }
    return plan;
  }

  /**
   * Records the target's state before the promotion, once: a verified backup, or a marker saying it
   * did not exist. A record an earlier attempt finished (its label is set last) is kept as it is.
   */
  async function recordBefore(
    target: Required<TableRef>,
    record: Required<TableRef>,
    labels: RunLabels,
  ): Promise<boolean> {
    const earlier = await ops.describe(record);
    const state = earlier.exists ? earlier.labels?.promotion_state : undefined;
    if (state === 'verified' || state === 'absent') return state === 'verified';
    if ((await ops.describe(target)).exists) {
      await freshCopy(target, record, labels);
      await ops.setLabels(record, { ...labels, promotion_state: 'verified' });
      return true;
    }
    await ops.createTableAs(record, 'SELECT TRUE AS absent', undefined, labels);
    await ops.setLabels(record, { ...labels, promotion_state: 'absent' });
    return false;
  }

  async function rollback(plan: PromotionPlan): Promise<{ restored: string[]; removed: string[] }> {
    const restored: string[] = [];
    const removed: string[] = [];
    for (const entry of plan.tables) {
      if (entry.backup) {
        await replace(entry.backup, entry.target, await ops.countRows(entry.backup));
        restored.push(name(entry.target));
      } else if (await ops.remove(entry.target)) {
        removed.push(name(entry.target));
      }
      heartbeatIfActivity({ phase: 'rollback', done: restored.length + removed.length });
    }
    return { restored, removed };
  }

  async function commit(plan: PromotionPlan): Promise<{ replaced: string[] }> {
    // Every staging copy must still be there and intact before the first target is touched.
    for (const entry of plan.tables) {
      const staged = await ops.describe(entry.staging);
      const rows = staged.exists ? await ops.countRows(entry.staging) : -1;
      if (rows !== entry.rows) {
        throw bigQueryFailure(
          BigQueryErrorType.CHECK_FAILED,
          `promotion ${plan.promotionId}: staging table ${name(entry.staging)} ${staged.exists ? `holds ${rows} rows, expected ${entry.rows}` : 'is missing'}; no production table was touched`,
        );
      }
    }
    const replaced: string[] = [];
    try {
      for (const entry of plan.tables) {
        await replace(entry.staging, entry.target, entry.rows);
        replaced.push(name(entry.target));
        heartbeatIfActivity({ phase: 'commit', done: replaced.length });
      }
    } catch (error) {
      if (replaced.length === 0) throw error;
      try {
        await rollback(plan);
      } catch (rollbackError) {
        throw bigQueryFailure(
          BigQueryErrorType.CHECK_FAILED,
          `promotion ${plan.promotionId} failed after replacing ${replaced.join(', ')} (${(error as Error).message}) and its rollback failed too (${(rollbackError as Error).message}); retry the commit or the rollback`,
        );
      }
      const type = (error as { type?: string }).type;
      throw bigQueryFailure(
        Object.values(BigQueryErrorType).includes(type as BigQueryErrorType)
          ? (type as BigQueryErrorType)
          : BigQueryErrorType.TRANSIENT,
        `${(error as Error).message}; rolled back ${replaced.join(', ')} to their backups`,
        error as Error,
      );
    }
    return { replaced };
  }

  async function finish(plan: PromotionPlan, keepBackups = false): Promise<{ deleted: string[] }> {
    const deleted: string[] = [];
    for (const entry of plan.tables) {
      for (const table of [entry.staging, keepBackups && entry.backup ? null : entry.record]) {
        if (table && (await ops.remove(table))) deleted.push(name(table));
      }
    }
    return { deleted };
  }

  /** All phases in one call (for a single activity): stage, commit, finish. Safe to run again after a crash. */
  async function promote(
    input: StagePromotionInput & { keepBackups?: boolean },
  ): Promise<{ replaced: string[]; plan: PromotionPlan }> {
    const plan = await stage(input);
    const { replaced } = await commit(plan);
    await finish(plan, input.keepBackups);
    return { replaced, plan };
  }

  return { stage, commit, rollback, finish, promote };
}

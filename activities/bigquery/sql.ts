import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryErrorType, bigQueryFailure } from './errors';
import { tableSql, type TableRef } from './identifiers';

/**
 * A SQL file as a step names it: a path relative to the root of its repository, ending in `.sql`,
 * with no `.`/`..` segment and nothing option-like (it ends up in a `git show <commit>:<path>`).
 */
const SQL_PATH = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\.sql$/;

export function isSqlPath(path: string): boolean {
  return SQL_PATH.test(path) && !path.split('/').some((part) => part === '.' || part === '..');
}

/** The project's root (the checkout, or dist/ in the production build, which copies every pipeline's SQL). */
const projectRoot = join(__dirname, '..', '..');

/** Typed and non-retryable: a step naming a file that is not there will not find it on a retry. */
const invalid = (message: string) => bigQueryFailure(BigQueryErrorType.INVALID_REQUEST, message);

/** Reads a SQL file of this build (`pipelines/<name>/sql/<file>.sql`). */
export function readSqlFile(path: string, root = projectRoot): string {
  if (!isSqlPath(path)) throw invalid(`invalid SQL file path ${JSON.stringify(path)}`);
  try {
    return readFileSync(join(root, path), 'utf8');
  } catch {
    throw invalid(`no SQL file ${path}`);
  }
}

/**
 * Fills a query's `{{table}}` placeholders with validated, backticked table names. Table names cannot
 * be query parameters in BigQuery; this is the one place they are spliced in, and only after the
 * identifier check. Values stay `@parameters`; whole-line `--` comments are removed.
 */
export function renderSql(
  source: string,
  tables: Record<string, TableRef>,
  defaultProject: string,
  name = 'the query',
): string {
  // Whole-line comments are dropped: the emulator counts `@name` in comments as parameters (a MERGE
  // whose header comment mentions @from fails with "parameter count mismatch").
  const text = source
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  const missing = new Set<string>();
  const sql = text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_match, key: string) => {
    const table = tables[key];
    if (!table) {
      missing.add(key);
      return '';
    }
    return tableSql(table, defaultProject);
  });
  if (missing.size > 0) throw invalid(`${name} needs table(s) ${[...missing].join(', ')}`);
  return sql;
}

/** `renderSql` of a file of this build (tests, and steps that pin no repository). */
export const renderSqlFile = (path: string, tables: Record<string, TableRef>, defaultProject: string) =>
  renderSql(readSqlFile(path), tables, defaultProject, path);

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryErrorType, bigQueryFailure } from '../activities/bigquery/errors';
import { tableSql, type TableRef } from '../activities/bigquery/identifiers';

const sqlName = /^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/;

/**
 * Loads `sql/<name>.sql` and fills its `{{table}}` placeholders with validated, backticked table
 * names. Table names cannot be query parameters in BigQuery; this is the one place they are spliced
 * in, and only after the identifier check. Values stay `@parameters`; whole-line `--` comments are
 * removed.
 */
export function renderSql(name: string, tables: Record<string, TableRef>, defaultProject: string): string {
  // Typed and non-retryable: a step naming a file that is not there will not find it on a retry.
  const invalid = (message: string) => bigQueryFailure(BigQueryErrorType.INVALID_REQUEST, message);
  if (!sqlName.test(name)) throw invalid(`invalid SQL file name ${JSON.stringify(name)}`);
  let source: string;
  try {
    source = readFileSync(join(__dirname, `${name}.sql`), 'utf8');
  } catch {
    throw invalid(`no SQL file sql/${name}.sql`);
  }
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
  if (missing.size > 0) throw invalid(`sql/${name}.sql needs table(s) ${[...missing].join(', ')}`);
  return sql;
}

/**
 * Rows as plain JSON: the client returns DATE/TIMESTAMP/DATETIME as `{ value }` wrappers, NUMERIC as
 * Big.js and BYTES as Buffers, none of which survive Temporal's payload converter or an NDJSON file
 * the way a reader expects. Dates become their ISO strings, NUMERIC its decimal string, BYTES base64.
 */
export function toJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('value' in object && Object.keys(object).length === 1) return toJsonValue(object.value);
    // Big.js (NUMERIC / BIGNUMERIC) and the client's BigQueryInt both print exactly with toString().
    if (object.constructor?.name === 'Big' || object.constructor?.name === 'BigQueryInt')
      return String(value);
    return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, toJsonValue(inner)]));
  }
  return value;
}

export function toJsonRow(row: Record<string, unknown>): Record<string, unknown> {
  return toJsonValue(row) as Record<string, unknown>;
}

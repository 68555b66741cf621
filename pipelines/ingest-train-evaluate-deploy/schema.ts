/**
 * The source records of the ingest-train-evaluate-deploy pipeline (seed 003: Boston-housing-like
 * records from a staging area), shared by the pipeline's SQL, its synthetic data and its tests.
 */
export const SOURCE_DATASET = 'housing_source';
export const RECORDS_TABLE = 'records';

/** The 13 features of seed 003 (`X_cols`, lower-cased) and the label (`target`, median value in $1000s). */
export const FEATURES = [
  'crim',
  'zn',
  'indus',
  'chas',
  'nox',
  'rm',
  'age',
  'dis',
  'rad',
  'tax',
  'ptratio',
  'b',
  'lstat',
] as const;

/** Columns of `<source_dataset>.records`: an id, the day the record reached the staging area, features, label. */
export const RECORDS_SCHEMA = [
  { name: 'record_id', type: 'INTEGER' },
  { name: 'loaded_at', type: 'DATE' },
  ...FEATURES.map((name) => ({ name, type: 'FLOAT' })),
  { name: 'target', type: 'FLOAT' },
];

/** The registry name of the model (alias `production` = the deployed model). */
export const MODEL_NAME = 'house_prices';

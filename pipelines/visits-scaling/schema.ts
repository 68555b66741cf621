/**
 * The warehouse the visits-scaling pipeline reads and writes, as the synthetic generator creates it.
 * One name per thing: the pipeline's parameters `source_dataset` and `production_dataset` default to
 * these, and the SQL under pipelines/visits-scaling/sql/ refers to the tables by these names.
 */
export const DATASETS = { source: 'visits_source', production: 'visits_production' } as const;

type Field = { name: string; type: 'INTEGER' | 'FLOAT' | 'STRING' | 'BOOLEAN' | 'DATE' };
const f = (name: string, type: Field['type']): Field => ({ name, type });

export const SOURCE_TABLES = {
  /** Points of interest, in metropolitan areas 0–77; `closed_on` is set for closed locations. */
  pois: [
    f('poi_id', 'INTEGER'),
    f('met_area', 'INTEGER'),
    f('category', 'STRING'),
    f('latitude', 'FLOAT'),
    f('longitude', 'FLOAT'),
    f('opened_on', 'DATE'),
    f('closed', 'BOOLEAN'),
    f('closed_on', 'DATE'),
  ],
  /** Observed daily visits per POI, split by whether the device's home / workplace is near the POI. */
  poi_visits_daily: [
    f('day', 'DATE'),
    f('poi_id', 'INTEGER'),
    f('met_area', 'INTEGER'),
    f('near_home', 'BOOLEAN'),
    f('near_work', 'BOOLEAN'),
    f('visits', 'INTEGER'),
  ],
  /** Location clusters (device stays) per metropolitan area per day: the visits ratio's denominator. */
  clusters_daily: [f('day', 'DATE'), f('met_area', 'INTEGER'), f('clusters', 'INTEGER')],
  /** True daily visits of a panel of POIs (real visits' ground truth). */
  real_visits_panel: [f('day', 'DATE'), f('poi_id', 'INTEGER'), f('real_visits', 'INTEGER')],
} as const satisfies Record<string, Field[]>;

export const PRODUCTION_TABLES = {
  visits_share_predictions: [
    f('poi_id', 'INTEGER'),
    f('met_area', 'INTEGER'),
    f('share', 'FLOAT'),
    f('model_version', 'STRING'),
  ],
  quality_predictions: [
    f('met_area', 'INTEGER'),
    f('day', 'DATE'),
    f('quality_ratio', 'FLOAT'),
    f('model_version', 'STRING'),
  ],
  trend_predictions: [
    f('met_area', 'INTEGER'),
    f('day', 'DATE'),
    f('trend_ratio', 'FLOAT'),
    f('model_version', 'STRING'),
  ],
  /** Kept up to date daily by the production visits pipeline: the table with the post-run gap. */
  poi_visits_scaled: [
    f('day', 'DATE'),
    f('poi_id', 'INTEGER'),
    f('met_area', 'INTEGER'),
    f('visits_scaled', 'FLOAT'),
    f('model_version', 'STRING'),
  ],
} as const satisfies Record<string, Field[]>;

export type SourceTable = keyof typeof SOURCE_TABLES;
export type ProductionTable = keyof typeof PRODUCTION_TABLES;
export type Row = Record<string, string | number | boolean | null>;

/** The features each example model reads (models/<name>/train.py SPEC), for the previous quarter's models. */
export const MODEL_FEATURES = {
  visits_share: [
    'log_days_open',
    'closed',
    'category_retail',
    'category_food',
    'category_leisure',
    'log_area_pois',
  ],
  quality: ['ratio_total', 'share_near_home', 'share_near_work', 'share_closed', 'weekend'],
  trend: ['t', 'dow_sin', 'dow_cos'],
  real_visits: ['observed', 'visits_share', 'quality_ratio', 'trend_ratio'],
} as const;

export const MODEL_LABELS = {
  visits_share: 'share',
  quality: 'target_ratio',
  trend: 'ratio',
  real_visits: 'real_visits',
} as const;

/** Columns of each model's `predictions.ndjson` (its id columns and output, models/<name>/train.py). */
export const PREDICTION_SCHEMAS = {
  visits_share: [f('poi_id', 'INTEGER'), f('met_area', 'INTEGER'), f('share', 'FLOAT')],
  quality: [f('met_area', 'INTEGER'), f('day', 'DATE'), f('quality_ratio', 'FLOAT')],
  trend: [f('met_area', 'INTEGER'), f('day', 'DATE'), f('trend_ratio', 'FLOAT')],
  real_visits: [
    f('poi_id', 'INTEGER'),
    f('met_area', 'INTEGER'),
    f('day', 'DATE'),
    f('real_visits', 'FLOAT'),
  ],
} as const satisfies Record<keyof typeof MODEL_FEATURES, Field[]>;

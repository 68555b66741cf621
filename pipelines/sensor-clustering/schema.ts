/**
 * The warehouse of sensor-clustering (seed 001), as the pipeline reads and writes it and the synthetic
 * generator creates it. One name per thing: the parameters `readings_table`, `features_table` and
 * `results_table` default to these names.
 */
export const DATASETS = { source: 'sensors_source', production: 'sensors_production' } as const;

export const TABLES = {
  /** Where a sensor's readings land: one (date, sensor_id) partition per sensor and day. */
  readings: `${DATASETS.source}.readings`,
  /** Features of every sensor-day computed by the daily runs: retraining's default dataset. */
  features: `${DATASETS.production}.sensor_features`,
  /** Cluster of each sensor-day, with the model version that assigned it (seed 001's results_db). */
  results: `${DATASETS.production}.sensor_clusters`,
} as const;

type Field = { name: string; type: 'INTEGER' | 'FLOAT' | 'STRING' | 'DATE' | 'TIMESTAMP' | 'BOOLEAN' };
const f = (name: string, type: Field['type']): Field => ({ name, type });

/** The feature model's output columns (models/sensor-clustering/features.py FEATURES, same order). */
export const FEATURE_NAMES = [
  'temp_mean',
  'temp_std',
  'temp_range',
  'temp_day_night',
  'humidity_mean',
  'humidity_std',
  'sound_mean',
  'sound_std',
  'sound_day_night',
  'temp_humidity_corr',
] as const;

export const READINGS_SCHEMA: Field[] = [
  f('date', 'DATE'),
  f('sensor_id', 'STRING'),
  f('ts', 'TIMESTAMP'),
  f('hour', 'FLOAT'),
  f('temperature', 'FLOAT'),
  f('humidity', 'FLOAT'),
  f('sound', 'FLOAT'),
];

export const FEATURES_SCHEMA: Field[] = [
  f('date', 'DATE'),
  f('sensor_id', 'STRING'),
  f('rows', 'INTEGER'),
  ...FEATURE_NAMES.map((name) => f(name, 'FLOAT')),
];

export const RESULTS_SCHEMA: Field[] = [
  f('date', 'DATE'),
  f('sensor_id', 'STRING'),
  f('cluster', 'INTEGER'),
  f('distance', 'FLOAT'),
  f('model_version', 'STRING'),
  f('run_id', 'STRING'),
  /** How many sensors the inference that wrote the row had: partial results say so. */
  f('sensors_in_inference', 'INTEGER'),
  f('partial', 'BOOLEAN'),
];

/** Registry name of the clustering model. */
export const MODEL_NAME = 'sensor_clustering';

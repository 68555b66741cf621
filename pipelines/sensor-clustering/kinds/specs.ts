import { z } from 'zod';
import { dateString, name, programFolder } from '../../../activities/kinds/schemas';

/** The spec of `sensor_features`. */
export const sensorFeaturesSpec = z.strictObject({
  /** Raw readings (`date`, `sensor_id`, `ts`, …). */
  readings: name,
  /** The published features table (one row per sensor and date). */
  features: name,
  /** The day whose sensors are featurized (`'{{cutoff}}'`). */
  date: dateString,
  /** The feature program, from the repository's root. */
  script: name,
  code: programFolder,
});
export type SensorFeaturesSpec = z.infer<typeof sensorFeaturesSpec>;

/** The spec of `sensor_clusters`. */
export const sensorClustersSpec = z.strictObject({
  readings: name,
  features: name,
  results: name,
  date: dateString,
  /** Registry model name, and the version to use (`production` or a version). */
  model: name,
  model_version: name,
  script: name,
  /** Sensors expected on the date; fewer means partial results (defaults to the readings' count). */
  expected: z.number().int().nonnegative().optional(),
  code: programFolder,
});
export type SensorClustersSpec = z.infer<typeof sensorClustersSpec>;

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
  /**
   * The features map step it runs after: inference covers that map's finished items (each finished
   * batch while the map runs, then all). Without it (runs planned before the map), every sensor
   * published for the date.
   */
  sensors_step: name.optional(),
  code: programFolder,
});
export type SensorClustersSpec = z.infer<typeof sensorClustersSpec>;

/** The spec of `sensor_list`: the sensors whose readings landed on the date (the features map's list). */
export const sensorListSpec = z.strictObject({
  readings: name,
  date: dateString,
});
export type SensorListSpec = z.infer<typeof sensorListSpec>;

/** A sensor item of the features map, as `sensor_list` returned it (checked again: it names tables). */
export const sensorItemSchema = z.strictObject({
  sensor_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'expected 1–128 letters, digits, _ . : -'),
  rows: z.number().int().nonnegative(),
  fingerprint: z.string().regex(/^[0-9a-f]{8,64}$/, 'expected a hex fingerprint'),
});

/** The spec of `sensor_feature`: one item of the features map (one sensor-day). */
export const sensorFeatureSpec = z.strictObject({
  readings: name,
  features: name,
  date: dateString,
  /** `'{{item}}'`: the sensor and its readings' fingerprint (which enters the item's cache key). */
  sensor: sensorItemSchema,
  script: name,
  code: programFolder,
});
export type SensorFeatureSpec = z.infer<typeof sensorFeatureSpec>;

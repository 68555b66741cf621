import { Context } from '@temporalio/activity';
import type { InferenceMetrics } from './inference';

/** The numeric metrics of an inference exported as gauges, by name (Prometheus `retrainer_sensor_*`). */
const GAUGES: [keyof InferenceMetrics, string, string][] = [
  [
    'silhouette',
    'retrainer_sensor_silhouette',
    'Silhouette score of the day’s clusters (−1…1, higher is better)',
  ],
  [
    'calinski_harabasz',
    'retrainer_sensor_calinski_harabasz',
    'Calinski–Harabasz index of the day’s clusters',
  ],
  [
    'davies_bouldin',
    'retrainer_sensor_davies_bouldin',
    'Davies–Bouldin index of the day’s clusters (lower is better)',
  ],
  ['sensors', 'retrainer_sensor_sensors', 'Sensors in the inference'],
  ['dataset_rows', 'retrainer_sensor_dataset_rows', 'Readings behind the inference'],
  ['rows_per_sensor_mean', 'retrainer_sensor_rows_per_sensor', 'Mean readings per sensor'],
  ['model_age_days', 'retrainer_sensor_model_age_days', 'Days since the model’s data cutoff'],
  ['inference_ms', 'retrainer_sensor_inference_ms', 'Duration of the inference'],
];

/**
 * Exports an inference's metrics through the activity's metric meter, which the worker's runtime
 * exports to Prometheus (when it has an exporter configured; otherwise the SDK drops them). Outside
 * an activity (unit tests) it does nothing.
 */
export function exportInferenceMetrics(metrics: InferenceMetrics, labels: { pipeline: string }): void {
  let meter;
  try {
    meter = Context.current().metricMeter;
  } catch {
    return;
  }
  const tags = {
    pipeline: labels.pipeline,
    partial: String(metrics.partial),
    model_version: metrics.model_version,
  };
  for (const [key, name, help] of GAUGES) {
    const value = metrics[key];
    if (typeof value === 'number' && Number.isFinite(value))
      meter.createGauge(name, 'float', '', help).set(value, tags);
  }
}

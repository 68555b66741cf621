// Retrainer's own Prometheus series, emitted from workflow code through the SDK's `metricMeter`
// (exported by the worker's runtime at WORKER_METRICS_ADDRESS). Workflow metrics are not emitted
// while a history is replayed, so a worker restart never counts anything twice. No commands: adding
// or changing a series needs no patch.
import { metricMeter } from '@temporalio/workflow';
import { vmCost, type VmUsage } from './cost';

/** Seconds from a step's start to its end, by pipeline, step and final state. */
export function recordStepDuration(
  pipeline: string,
  step: string,
  state: string,
  startedAt?: string,
  endedAt?: string,
): void {
  if (!startedAt || !endedAt) return;
  const seconds = (Date.parse(endedAt) - Date.parse(startedAt)) / 1000;
  if (!Number.isFinite(seconds) || seconds < 0) return;
  metricMeter
    .createHistogram('retrainer_step_duration_seconds', 'float', 's', 'Duration of pipeline steps')
    .record(seconds, { pipeline, step, state });
}

/**
 * VM hours and estimated cost of a training's VMs once they are torn down: histograms whose `_sum`
 * is the total (Temporal's counters take integers only), by pipeline, step and machine type.
 */
export function recordVmUsage(vms: VmUsage[], labels: Record<string, string> = {}): void {
  const hours = metricMeter.createHistogram('retrainer_vm_hours', 'float', 'h', 'VM hours of trainings');
  const cost = metricMeter.createHistogram(
    'retrainer_vm_cost_usd',
    'float',
    'USD',
    'Estimated cost of trainings’ VMs (config/prices.ts)',
  );
  const now = Date.now();
  for (const usage of vms) {
    const priced = vmCost(usage, now);
    const tags = {
      pipeline: labels.pipeline ?? '',
      step: labels.step ?? '',
      machine_type: priced.machineType ?? 'unknown',
    };
    hours.record(priced.hours, tags);
    cost.record(priced.usd, tags);
  }
}

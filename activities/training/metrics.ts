import type { MetricLine, MetricsSummary, MonitorHeartbeat } from '../../workflows/training-types';
import type { ProbeResult } from './remote';

const LOG_TAIL_CHARS = 2000;

export function freshHeartbeat(runId: string): MonitorHeartbeat {
  return {
    runId,
    logOffset: 0,
    metricsOffset: 0,
    metrics: { count: 0, invalid: 0 },
    reconnects: 0,
    polls: 0,
    elapsedMs: 0,
    logTail: '',
  };
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Folds one metrics.jsonl line into the running summary; NaN/Infinity (or unparsable lines) count as invalid. */
export function foldMetric(summary: MetricsSummary, line: string): MetricLine | undefined {
  if (!line.trim()) return undefined;
  let parsed: MetricLine;
  try {
    // Python's json.dumps writes NaN and Infinity unquoted; JSON.parse rejects them.
    parsed = JSON.parse(line.replace(/-?\b(NaN|Infinity)\b/g, '"$&"')) as MetricLine;
  } catch {
    summary.invalid += 1;
    return undefined;
  }
  summary.count += 1;
  const { loss, val_loss: valLoss } = parsed as { loss?: unknown; val_loss?: unknown };
  if ((loss !== undefined && !finite(loss)) || (valLoss !== undefined && !finite(valLoss))) {
    summary.invalid += 1;
    return parsed;
  }
  if (finite(loss)) {
    summary.firstLoss ??= loss;
    summary.minLoss = summary.minLoss === undefined ? loss : Math.min(summary.minLoss, loss);
    summary.lastLoss = loss;
  }
  return parsed;
}

/**
 * Applies a probe to the heartbeat state: advances the offsets, folds complete metric lines and keeps
 * a short log tail. A trailing partial metrics line is left for the next poll unless the run ended.
 */
export function applyProbe(state: MonitorHeartbeat, probe: ProbeResult): void {
  if (probe.startedAt !== undefined) state.elapsedMs = (probe.endedAt ?? probe.now) - probe.startedAt;
  if (probe.log.length > 0) {
    state.logOffset += probe.log.length;
    state.logTail = (state.logTail + probe.log.toString('utf8')).slice(-LOG_TAIL_CHARS);
  }
  const finished =
    probe.exitCode !== undefined && state.metricsOffset + probe.metrics.length >= probe.metricsSize;
  const lastNewline = probe.metrics.lastIndexOf(0x0a);
  const usable = finished ? probe.metrics.length : lastNewline + 1;
  if (usable > 0) {
    for (const line of probe.metrics.subarray(0, usable).toString('utf8').split('\n')) {
      const metric = foldMetric(state.metrics, line);
      if (metric) state.lastMetric = metric;
    }
    state.metricsOffset += usable;
  }
}

/** True when every byte written before exit_code has been read. */
export const drained = (state: MonitorHeartbeat, probe: ProbeResult): boolean =>
  state.logOffset >= probe.logSize && state.metricsOffset >= probe.metricsSize;

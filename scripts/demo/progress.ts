import type { MapProgress, RunStatus, StepState } from '../../workflows/definitions';

/** What GET /runs/:id answers (the parts the demo reads). */
export interface RunView {
  status: string;
  webUiUrl: string;
  run: RunStatus;
  progress: { workflowId: string; activity: string; details?: unknown }[];
}

interface MonitorDetails {
  lastMetric?: { step?: number; loss?: number; val_loss?: number };
  elapsedMs?: number;
  reconnects?: number;
}

const ICON: Partial<Record<StepState, string>> = {
  succeeded: '✓',
  'marked-succeeded': '✓',
  cached: '=',
  reused: '=',
  failed: '✗',
  skipped: '-',
  'awaiting-decision': '?',
  running: '▸',
};

/** Turns successive views of a run into the lines a person wants to see: step changes and training loss. */
export class ProgressPrinter {
  private readonly seen = new Map<string, StepState>();
  private readonly mapLines = new Map<string, string>();
  private lastTraining = '';

  constructor(private readonly print: (line: string) => void) {}

  update(view: RunView): void {
    for (const step of view.run.steps) {
      if (this.seen.get(step.id) === step.state) continue;
      this.seen.set(step.id, step.state);
      if (step.state === 'pending') continue;
      const took = step.startedAt && step.endedAt ? ` (${seconds(step.startedAt, step.endedAt)})` : '';
      const why = step.state === 'awaiting-decision' ? ` — waiting for ${step.awaiting ?? 'a decision'}` : '';
      const error = step.error && step.state === 'failed' ? `: ${step.error}` : '';
      this.print(`  ${ICON[step.state] ?? ' '} ${step.id.padEnd(22)} ${step.state}${took}${why}${error}`);
    }
    for (const step of view.run.steps) {
      const line = step.map ? mapLine(step.map) : undefined;
      if (!line || this.mapLines.get(step.id) === line) continue;
      this.mapLines.set(step.id, line);
      this.print(`      map ${step.id}: ${line}`);
    }
    const trainings = view.progress
      .filter(
        (activity) =>
          activity.details && typeof activity.details === 'object' && 'lastMetric' in activity.details,
      )
      .map((activity) => {
        const details = activity.details as MonitorDetails;
        const metric = details.lastMetric ?? {};
        const loss = metric.loss === undefined ? '…' : metric.loss.toFixed(4);
        const elapsed = details.elapsedMs ? `, ${Math.round(details.elapsedMs / 1000)}s on the VM` : '';
        return `${activity.workflowId.split('/').slice(-2, -1)[0] ?? activity.workflowId}: step ${metric.step ?? 0}, loss ${loss}${elapsed}`;
      });
    const line = trainings.join(' | ');
    if (line && line !== this.lastTraining) {
      this.lastTraining = line;
      this.print(`      training ${line}`);
    }
  }
}

/** `7/10 items done (2 cached), 1 failed, 2 running, batch 2/3; failed: #3 "b": no data` */
export function mapLine(map: MapProgress): string {
  const done = map.succeeded + map.cached + map.markedSucceeded;
  const parts = [
    `${done}/${map.total} items done${map.cached ? ` (${map.cached} cached)` : ''}`,
    ...(map.failed ? [`${map.failed} failed`] : []),
    ...(map.running ? [`${map.running} running`] : []),
    `batch ${map.batches.finished}/${map.batches.total}`,
  ];
  const failed = map.failedItems
    .slice(0, 3)
    .map((item) => `#${item.index} ${item.item}: ${item.error}`)
    .join('; ');
  return `${parts.join(', ')}${failed ? `; failed: ${failed}` : ''}`;
}

function seconds(from: string, to: string): string {
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s`;
}

interface Evaluation {
  promote?: boolean;
  reason?: string;
  tieRule?: string;
  models?: Record<
    string,
    {
      challenger?: number;
      champion?: number | null;
      rows?: number;
      margin?: number;
      outcome?: string;
      heldOut?: string;
    }
  >;
}

/** The out-of-sample champion/challenger verdict, one line per model: both MSEs on the same held-out rows. */
export function evaluationLines(info: Record<string, unknown> | undefined): string[] {
  const evaluation = info as Evaluation | undefined;
  if (!evaluation?.models) return [];
  const mse = (value: number | null | undefined) =>
    value === undefined || value === null ? 'n/a' : value.toPrecision(4);
  const lines = [
    `  evaluation (out of sample): ${evaluation.promote ? 'promoted' : 'NOT promoted'} (${evaluation.reason ?? ''})`,
  ];
  for (const [model, m] of Object.entries(evaluation.models)) {
    const margin = m.margin === undefined ? '' : `, margin ${Number((m.margin * 100).toPrecision(3))}%`;
    lines.push(
      `    ${model.padEnd(13)} on ${m.rows ?? '?'} held-out rows: challenger MSE ${mse(m.challenger)} vs production ${mse(m.champion)}${margin} → ${m.outcome ?? '?'}`,
    );
  }
  if (evaluation.tieRule) lines.push(`    tie rule: ${evaluation.tieRule}`);
  return lines;
}

/** The gap fill of poi_visits_scaled at promotion (visits-scaling's `gapfill` info), in one line. */
export function gapfillLines(info: Record<string, unknown> | undefined): string[] {
  if (!info || typeof info.filled !== 'boolean') return [];
  if (!info.filled) return [`  gap fill: none (${String(info.reason ?? '')})`];
  const skipped = Number(info.skipped ?? 0);
  return [
    `  gap fill of poi_visits_scaled at promotion: ${String(info.from)} → ${String(info.to)} (the source's last day), ${String(info.rows)} POI-days by ${String(info.modelVersion)}${skipped > 0 ? `, ${skipped} without features skipped` : ''}`,
  ];
}

/** The run's VM hours and estimated cost, per training step, for the demo's final summary. */
export function costLines(cost: RunStatus['cost']): string[] {
  if (!cost || Object.keys(cost.steps).length === 0) return [];
  const lines = [
    `VM time ${(cost.vmHours * 3600).toFixed(1)} s, estimated cost $${cost.usd.toFixed(4)} (config/prices.ts):`,
  ];
  for (const [step, { vmHours, usd }] of Object.entries(cost.steps))
    lines.push(`  ${step.padEnd(22)} ${(vmHours * 3600).toFixed(1).padStart(7)} s  $${usd.toFixed(4)}`);
  if (cost.unpriced?.length) lines.push(`  not priced: ${cost.unpriced.join(', ')}`);
  return lines;
}

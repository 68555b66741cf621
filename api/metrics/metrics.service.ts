import { Injectable } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { readMonitorHeartbeat } from '../../clients/training-progress';
import type { RunState } from '../../workflows/definitions';
import { TemporalService } from '../temporal/temporal.service';

const RUN_STATES: readonly RunState[] = ['planning', 'running', 'waiting', 'succeeded', 'failed', 'aborted'];
/** Live trainings read per scrape (each one a describe); more are counted but not detailed. */
const MAX_TRAININGS = 200;

/**
 * The API's Prometheus registry, read from Temporal at each scrape: runs by state (visibility counts
 * on the RunState search attribute) and each running training's step and loss (the monitor's last
 * heartbeat, the same the API shows under `progress`). Its own registry, not prom-client's global
 * one, so several apps in one process never clash.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly runs: Gauge<'state'>;
  private readonly trainingStep: Gauge<'training' | 'run' | 'step'>;
  private readonly trainingLoss: Gauge<'training' | 'run' | 'step'>;
  private readonly trainings: Gauge;
  private readonly temporalUp: Gauge;

  constructor(private readonly temporal: TemporalService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'retrainer_api_' });
    const registers = [this.registry];
    this.runs = new Gauge({
      name: 'retrainer_runs',
      help: 'Pipeline runs by state (RunState search attribute), open and closed',
      labelNames: ['state'],
      registers,
    });
    this.trainings = new Gauge({
      name: 'retrainer_trainings_running',
      help: 'trainOnVm workflows running',
      registers,
    });
    this.trainingStep = new Gauge({
      name: 'retrainer_training_step',
      help: 'Last training step a running training reported (metrics.jsonl, via the monitor heartbeat)',
      labelNames: ['training', 'run', 'step'],
      registers,
    });
    this.trainingLoss = new Gauge({
      name: 'retrainer_training_loss',
      help: 'Last loss a running training reported (metrics.jsonl, via the monitor heartbeat)',
      labelNames: ['training', 'run', 'step'],
      registers,
    });
    this.temporalUp = new Gauge({
      name: 'retrainer_api_temporal_up',
      help: '1 when the last scrape could read Temporal, else 0',
      registers,
    });
  }

  /** Refreshes the Temporal-backed series, then renders every series in the text format. */
  async render(): Promise<string> {
    try {
      const client = await this.temporal.client();
      await Promise.all([this.collectRuns(client), this.collectTrainings(client)]);
      this.temporalUp.set(1);
    } catch {
      this.temporalUp.set(0);
    }
    return await this.registry.metrics();
  }

  private async collectRuns(client: Client): Promise<void> {
    const counts = await Promise.all(
      RUN_STATES.map(async (state) => {
        const { count } = await client.workflow.count(
          `WorkflowType = 'runPipeline' AND RunState = '${state}'`,
        );
        return [state, count] as const;
      }),
    );
    for (const [state, count] of counts) this.runs.set({ state }, count);
  }

  private async collectTrainings(client: Client): Promise<void> {
    const ids: string[] = [];
    let running = 0;
    for await (const execution of client.workflow.list({
      query: `WorkflowType = 'trainOnVm' AND ExecutionStatus = 'Running'`,
    })) {
      running += 1;
      if (ids.length < MAX_TRAININGS) ids.push(execution.workflowId);
    }
    this.trainings.set(running);
    const beats = await Promise.all(
      ids.map(async (id) => [id, await readMonitorHeartbeat(client, id).catch(() => undefined)] as const),
    );
    this.trainingStep.reset();
    this.trainingLoss.reset();
    for (const [id, beat] of beats) {
      const metric = beat?.live.lastMetric;
      if (!metric) continue;
      const match = /^(.+)\/([^/]+)\/\d+$/.exec(id);
      const labels = { training: id, run: match?.[1] ?? '', step: match?.[2] ?? '' };
      if (typeof metric.step === 'number') this.trainingStep.set(labels, metric.step);
      if (typeof metric.loss === 'number' && Number.isFinite(metric.loss))
        this.trainingLoss.set(labels, metric.loss);
    }
  }
}

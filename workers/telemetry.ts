import {
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  type ActivityInterceptorsFactory,
  type LogLevel,
} from '@temporalio/worker';
import pino from 'pino';
import type { Config } from '../config';

export type TelemetryConfig = Pick<Config, 'LOG_LEVEL' | 'WORKER_METRICS_ADDRESS'>;

const SDK_LEVEL: Record<Config['LOG_LEVEL'], LogLevel> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
};
const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Buckets of Retrainer's histograms: steps last seconds to days, trainings cost cents to hundreds. */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  retrainer_step_duration_seconds: [1, 10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 259_200],
  retrainer_vm_hours: [0.1, 0.5, 1, 2, 4, 8, 12, 24, 48, 96],
  retrainer_vm_cost_usd: [0.1, 0.5, 1, 5, 10, 25, 50, 100, 250, 500],
};

/** JSON lines on `destination` (stdout by default) at `level`, ISO timestamps, `service: worker`. */
export function createWorkerLogger(
  level: Config['LOG_LEVEL'],
  destination: pino.DestinationStream = pino.destination(1),
): pino.Logger {
  return pino({ level, base: { service: 'worker' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/**
 * The run and step a log line is about, from the SDK's metadata: a run is the workflow id of a
 * `runPipeline`; a training's workflow id is `<run>/<step>/<attempt>` (workflows/runner/dispatch.ts).
 */
export function runAndStep(meta: Record<string, unknown>): { run?: string; step?: string } {
  const workflowId = typeof meta.workflowId === 'string' ? meta.workflowId : undefined;
  const step = typeof meta.step === 'string' ? meta.step : undefined;
  if (!workflowId) return step ? { step } : {};
  if (meta.workflowType === 'trainOnVm') {
    const match = /^(.+)\/([^/]+)\/\d+$/.exec(workflowId);
    if (match) return { run: match[1], step: step ?? match[2] };
  }
  return { run: workflowId, ...(step ? { step } : {}) };
}

/**
 * Installs the worker process's Temporal Runtime once, before any connection or worker exists: the
 * SDK's logger (workflow, activity and worker logs, and Core's own, forwarded) writes JSON through
 * pino at `LOG_LEVEL`, each line with its `run` and `step`; with `WORKER_METRICS_ADDRESS` the
 * runtime serves Prometheus metrics there (the SDK's and Retrainer's series from `metricMeter`).
 */
export function installWorkerTelemetry(
  config: TelemetryConfig,
  destination?: pino.DestinationStream,
): { logger: pino.Logger } {
  const logger = createWorkerLogger(config.LOG_LEVEL, destination);
  const level = SDK_LEVEL[config.LOG_LEVEL];
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const meta = entry.meta ?? {};
      logger[PINO_LEVEL[entry.level]]({ ...meta, ...runAndStep(meta) }, entry.message);
    }),
    telemetryOptions: {
      logging: {
        filter: makeTelemetryFilterString({ core: level === 'DEBUG' ? 'INFO' : level }),
        forward: {},
      },
      ...(config.WORKER_METRICS_ADDRESS
        ? {
            metrics: {
              metricPrefix: '',
              prometheus: {
                bindAddress: config.WORKER_METRICS_ADDRESS,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
                histogramBucketOverrides: HISTOGRAM_BUCKETS,
              },
            },
          }
        : {}),
    },
  });
  return { logger };
}

/**
 * Adds the step id of a step's activity (its input is a StepExecution, or holds one as `execution`)
 * to the activity's log lines and metric tags.
 */
export const stepAttributes: ActivityInterceptorsFactory = () => {
  let step: string | undefined;
  return {
    inbound: {
      async execute(input, next) {
        step = stepIdOf(input.args[0]);
        return await next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next(step ? { ...input, step } : input),
    },
  };
};

function stepIdOf(arg: unknown): string | undefined {
  if (!arg || typeof arg !== 'object') return undefined;
  const record = arg as { step?: { id?: unknown }; execution?: { step?: { id?: unknown } } };
  const id = record.step?.id ?? record.execution?.step?.id;
  return typeof id === 'string' ? id : undefined;
}

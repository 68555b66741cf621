import type { BigQuery } from '@google-cloud/bigquery';
import type { NativeConnection } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createApp } from '../../api/app';
import { loadConfig, parseApiTokens, type Config } from '../../config';
import { createWorker } from '../../workers/worker';
import { projectRoot } from '../../activities/providers/paths';
import {
  prepareVisitsScalingWarehouse,
  type LocalWarehouse,
} from '../../pipelines/visits-scaling/synthetic/warehouse';
import { ApiClient } from './http';
import { evaluationLines, ProgressPrinter, type RunView } from './progress';

export interface DemoOptions {
  /** Config of the worker and the API (Temporal address, warehouse endpoint, DATA_DIR…). */
  config: Config;
  bigquery: BigQuery;
  /** Worker connection to reuse (tests); a new one otherwise. */
  connection?: NativeConnection;
  print?: (line: string) => void;
  /** Seconds each training runs (the real ones run for hours). */
  trainSeconds?: number;
  /** Whether promotion waits for an approval, given through the API as an operator would. */
  requireApproval?: boolean;
}

export interface DemoResult {
  workflowId: string;
  view: RunView;
  warehouse: LocalWarehouse;
}

/**
 * The demo: a worker and the API in this process, the visits-scaling pipeline started, followed,
 * approved and finished through HTTP only — what a user's script or CI job would do.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const config = options.config;
  const registryDir = config.REGISTRY_DIR || join(config.DATA_DIR, 'registry');
  const warehouse = await prepareWarehouse(options.bigquery, config, registryDir, print);

  const { worker, connection } = await createWorker({
    config,
    bigquery: options.bigquery,
    notify: config,
    connection: options.connection,
  });
  const token = parseApiTokens(config.API_TOKENS)[0]?.secret ?? '';
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const api = new ApiClient(await app.getUrl(), token);
  print(
    `worker on task queue ${config.TEMPORAL_TASK_QUEUE}; API on ${await app.getUrl()} (OpenAPI at /docs)`,
  );

  try {
    return await worker.runUntil(async () => {
      const commit = execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], {
        encoding: 'utf8',
      }).trim();
      const started = await api.request<{ workflowId: string; webUiUrl: string }>('POST', '/runs', {
        pipeline: 'visits-scaling',
        runKey: `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`,
        cutoff: warehouse.cutoff,
        params: {
          train_seconds: options.trainSeconds ?? 8,
          train_steps: 400,
          monitor_poll_interval: '1 second',
          // Heartbeats (the live progress) are throttled to 0.8 × this: seconds-long trainings need it short.
          monitor_heartbeat_timeout: '3 seconds',
          quality_min_training: '3 seconds',
          require_approval: options.requireApproval ?? true,
          models_repo: projectRoot,
          models_ref: commit,
        },
      });
      const { workflowId, webUiUrl } = started.body;
      print(`\nPOST /runs → ${workflowId} (cutoff ${warehouse.cutoff})\n  Web UI: ${webUiUrl}\n`);
      const view = await follow(api, workflowId, new ProgressPrinter(print), print);
      print('');
      for (const line of evaluationLines(view.run.steps.find((step) => step.id === 'evaluate')?.info))
        print(line);
      return { workflowId, view, warehouse };
    });
  } finally {
    await app.close();
    if (!options.connection) await connection.close();
  }
}

/** Polls GET /runs/:id until the run ends, approving a waiting promotion through the API. */
async function follow(
  api: ApiClient,
  workflowId: string,
  printer: ProgressPrinter,
  print: (line: string) => void,
): Promise<RunView> {
  const path = `/runs/${encodeURIComponent(workflowId)}`;
  const approved = new Set<string>();
  for (;;) {
    const { body: view } = await api.request<RunView>('GET', path);
    printer.update(view);
    if (view.status !== 'RUNNING') return view;
    for (const step of view.run.steps.filter((s) => s.awaiting === 'approval' && !approved.has(s.id))) {
      approved.add(step.id);
      print(
        `  → ${step.id} waits for approval; approving as an operator: POST ${path}/approve {"step":"${step.id}"}`,
      );
      await api.request('POST', `${path}/approve`, { step: step.id });
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Synthetic source tables, the previous quarter's production tables and models. Done once per
 * DATA_DIR (a marker file), so a second demo finds last run's outputs and shows the cache at work.
 */
async function prepareWarehouse(
  bigquery: BigQuery,
  config: Config,
  registryDir: string,
  print: (line: string) => void,
) {
  const marker = join(config.DATA_DIR, 'demo-warehouse.json');
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as LocalWarehouse;
  print('generating the synthetic warehouse and the previous quarter (production tables and models)…');
  const dir = join(config.DATA_DIR, 'demo-warehouse');
  mkdirSync(dir, { recursive: true });
  const warehouse = await prepareVisitsScalingWarehouse({
    bigquery,
    config,
    registryDir,
    dir,
    synthetic: { metAreas: [0, 11, 22, 33, 44, 66, 77], poisPerArea: 4, days: 150 },
  });
  writeFileSync(marker, `${JSON.stringify(warehouse, null, 2)}\n`);
  print(
    `  loaded ${Object.entries(warehouse.tables)
      .map(([table, rows]) => `${table} ${rows}`)
      .join(', ')}`,
  );
  return warehouse;
}

/** A random bearer token for the demo's API. */
/** The demo's own admin token (`name:role:secret`), new each time. */
export const demoToken = (): string => `demo:admin:${randomBytes(16).toString('hex')}`;

export const demoConfig = (env: Record<string, string | undefined>): Config => loadConfig(env);

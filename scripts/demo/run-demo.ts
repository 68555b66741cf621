import type { BigQuery } from '@google-cloud/bigquery';
import type { NativeConnection } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { modelRegistryLocation } from '../../activities/registry';
import { createApp } from '../../api/app';
import { loadConfig, parseApiTokens, type Config } from '../../config';
import { createWorker } from '../../workers/worker';
import { ApiClient } from './http';
import { costLines, evaluationLines, gapfillLines, ProgressPrinter, type RunView } from './progress';
import { demoRecipe, demoRecipes } from './recipes';

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
  /** The pipeline to run (scripts/demo/recipes.ts); visits-scaling by default. */
  pipeline?: string;
  /** Parameters over the demo's own (tests). */
  params?: Record<string, string | number | boolean>;
}

export interface DemoResult {
  workflowId: string;
  view: RunView;
  cutoff: string;
  /** What the recipe prepared (table sizes, the previous production version…). */
  facts: Record<string, unknown>;
}

/**
 * The demo: a worker and the API in this process, a pipeline's synthetic data prepared, the
 * pipeline started, followed, approved and finished through HTTP only — what a user's script or CI
 * job would do.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const config = options.config;
  const registryDir = modelRegistryLocation(config);
  const recipe = demoRecipe(options.pipeline ?? (demoRecipes[0] as { pipeline: string }).pipeline);
  const start = await recipe.prepare({
    bigquery: options.bigquery,
    config,
    registryDir,
    print,
    ...(options.trainSeconds !== undefined ? { trainSeconds: options.trainSeconds } : {}),
    ...(options.requireApproval !== undefined ? { requireApproval: options.requireApproval } : {}),
  });

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
      const started = await api.request<{ workflowId: string; webUiUrl: string }>('POST', '/runs', {
        pipeline: recipe.pipeline,
        runKey: `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`,
        cutoff: start.cutoff,
        params: { ...start.params, ...options.params },
      });
      const { workflowId, webUiUrl } = started.body;
      print(`\nPOST /runs → ${workflowId} (cutoff ${start.cutoff})\n  Web UI: ${webUiUrl}\n`);
      const view = await follow(api, workflowId, new ProgressPrinter(print), print);
      print('');
      for (const line of evaluationLines(view.run.steps.find((step) => step.id === 'evaluate')?.info))
        print(line);
      for (const line of gapfillLines(view.run.steps.find((step) => step.id === 'gapfill')?.info))
        print(line);
      for (const line of costLines(view.run.cost)) print(line);
      return { workflowId, view, cutoff: start.cutoff, facts: start.facts };
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

/** A random bearer token for the demo's API. */
/** The demo's own admin token (`name:role:secret`), new each time. */
export const demoToken = (): string => `demo:admin:${randomBytes(16).toString('hex')}`;

export const demoConfig = (env: Record<string, string | undefined>): Config => loadConfig(env);

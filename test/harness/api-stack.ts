import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { App } from 'supertest/types';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../api/app';
import type { AnyStepKind } from '../../activities/kinds/kind';
import { createNotifyActivities } from '../../activities/notify';
import { createPlanActivities } from '../../activities/plan';
import { runPolicyFromConfig } from '../../activities/run-policy';
import { createStepActivities } from '../../activities/steps';
import { loadConfig } from '../../config';
import { createPipelineRegistry } from '../../pipelines';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { workflowsPath } from '../../workers/worker';
import { bound } from './kinds';
import { testLogFile } from './paths';
import { createDevServerEnv } from './temporal';

export interface ApiStack {
  /** `http://127.0.0.1:<port>` of the API. */
  base: string;
  env: TestWorkflowEnvironment;
  taskQueue: string;
  app: INestApplication;
  /** The API's request log. */
  logFile: string;
  stop(): Promise<void>;
}

export interface ApiStackOptions {
  /** The catalog both the API and the worker know. */
  pipelines: PipelineDefinition[];
  /** The step kinds the worker plans against and runs. */
  kinds: AnyStepKind<never>[];
  /** `API_TOKENS`. */
  tokens: string;
  /** More config for the API and the worker's plan policy (allow-lists, cost ceiling, rate limits). */
  config?: Record<string, string>;
  /**
   * `false`: the worker only plans (no step activities are registered), so a run that somehow
   * started could never execute a step.
   */
  runSteps?: boolean;
}

/**
 * The API listening on a free loopback port over HTTP, a real worker (the plan activity with the
 * policy built from `config`, and the given kinds' step activities) and a Temporal dev server: what
 * a client of the API meets, for tests that speak HTTP from another process (fuzzers, hostile input).
 */
export async function startApiStack(options: ApiStackOptions): Promise<ApiStack> {
  const env = await createDevServerEnv();
  const taskQueue = `api-stack-${randomUUID()}`;
  const config = loadConfig({
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    API_TOKENS: options.tokens,
    ...options.config,
  });
  const registry = createPipelineRegistry(options.pipelines);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: workflowsPath(),
    activities: {
      ...createPlanActivities({
        pipelines: registry,
        kinds: options.kinds,
        policy: runPolicyFromConfig(config),
      }),
      ...(options.runSteps === false ? {} : createStepActivities(bound(...options.kinds))),
      ...createNotifyActivities(loadConfig({})),
    },
  });
  const running = worker.run();
  // The API's JSON request log goes to a file (a fuzzer's thousands of lines would drown the output).
  const logFile = testLogFile(`api-stack-${taskQueue.slice(-8)}.log`);
  const app = await createApp(config, { pipelines: registry, logDestination: pino.destination(logFile) });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    env,
    taskQueue,
    app,
    logFile,
    async stop() {
      await app.close();
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/** An API suite's pieces, filled in by its beforeAll. */
export interface ApiSuite {
  env: TestWorkflowEnvironment;
  worker: Worker;
  app: INestApplication;
  /** The in-process API for supertest's `request(http)`. */
  http: App;
}

export interface ApiSuiteOptions {
  /** `API_TOKENS`. */
  tokens: string;
  /** The suite's worker on the dev server; the API starts runs on its task queue. */
  worker: (env: TestWorkflowEnvironment) => Promise<Worker>;
  /** The catalog the API knows; the app's own catalog when omitted. */
  pipelines?: PipelineDefinition[];
}

/**
 * Registers the suite's beforeAll/afterAll for API tests through supertest: a dev server, the suite's
 * worker running on it, and the API (not listening: supertest drives it in-process) on the worker's
 * task queue. At the end, the API closes, then the worker drains, then the server stops.
 */
export function useApiSuite(options: ApiSuiteOptions): ApiSuite {
  const suite = {} as ApiSuite;
  let running: Promise<void> | undefined;
  beforeAll(async () => {
    suite.env = await createDevServerEnv();
    suite.worker = await options.worker(suite.env);
    running = suite.worker.run();
    const config = loadConfig({
      TEMPORAL_ADDRESS: suite.env.address,
      TEMPORAL_TASK_QUEUE: suite.worker.options.taskQueue,
      API_TOKENS: options.tokens,
    });
    suite.app = await createApp(
      config,
      options.pipelines ? { pipelines: createPipelineRegistry(options.pipelines) } : {},
    );
    await suite.app.init();
    suite.http = suite.app.getHttpServer() as App;
  });
  afterAll(async () => {
    await suite.app?.close();
    suite.worker?.shutdown();
    await running;
    await suite.env?.teardown();
  });
  return suite;
}

// What the chaos run proves once the pipeline has ended: it succeeded, each training launched once,
// every output exists, the promotion happened once, and activities of dead workers came back quickly.
import type { BigQuery } from '@google-cloud/bigquery';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StepExecution } from '../../activities/steps';
import { createRegistryActivities } from '../../activities/registry';
import { createActivities } from '../../workers/worker';
import type { RunStatus } from '../../workflows/definitions';
import type { TrainOnVmResult } from '../../workflows/training-types';
import { digestHistory, type ActivityRecord, type HistoryDigest } from './history';

export interface ChaosCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckContext {
  client: Client;
  bigquery: BigQuery;
  workflowId: string;
  status: RunStatus;
  registryDir: string;
  /** The production model versions before the run (the previous quarter's). */
  previousVersion: string;
  /**
   * A retried short activity must have closed within this long of its scheduling, not counting the
   * time an attempt of it spent blocked on the chaos run's own lock hold (`lockWaits`).
   */
  recoveryLimitMs: number;
  /** When a live attempt of a training's launch waited on the launch lock that the chaos run held. */
  lockWaits?: LockWait[];
}

/**
 * An interval (epoch ms) in which a live attempt of the launch of `runId` was blocked on the launch
 * lock held by the chaos run: waiting by design, not recovering. The time between a worker's death
 * and the retry's start is never inside one.
 */
export interface LockWait {
  runId: string;
  from: number;
  to: number;
}

/** The train.log lines a model prints when it starts (fresh) or resumes: one per launch. */
const LAUNCH_BANNER = /\] (training \S+ on \d+ rows|resumed from )/;

/** Activities that are long by design (they run as long as the training or the SSH wait). */
const LONG_ACTIVITIES = new Set(['monitorTraining', 'waitForTrainingSsh', 'executeStep']);

const check = (name: string, ok: boolean, detail: string): ChaosCheck => ({ name, ok, detail });

export async function checkRun(ctx: CheckContext): Promise<{
  checks: ChaosCheck[];
  histories: HistoryDigest[];
  launchRetries: number;
}> {
  const parent = await digestHistory(ctx.client, ctx.workflowId);
  const children = await Promise.all(parent.trainingChildren.map((id) => digestHistory(ctx.client, id)));
  const histories = [parent, ...children];
  const checks: ChaosCheck[] = [
    check('the run succeeded', ctx.status.state === 'succeeded', `state ${ctx.status.state}`),
    oneTrainingPerStep(ctx, parent),
    await launchedOnce(ctx, parent.trainingChildren),
    await outputsExist(ctx),
    await promotedOnce(ctx, parent),
    recoveredQuickly(ctx, histories),
  ];
  const launchRetries = children
    .flatMap((child) => child.activities)
    .filter((activity) => activity.type === 'launchTraining' && activity.attempt > 1).length;
  return { checks, histories, launchRetries };
}

function oneTrainingPerStep(ctx: CheckContext, parent: HistoryDigest): ChaosCheck {
  const trainSteps = (ctx.status.plan?.steps ?? []).filter((step) => step.kind === 'train').map((s) => s.id);
  const perStep = trainSteps.map(
    (step) => [step, parent.trainingChildren.filter((id) => id.split('/').at(-2) === step).length] as const,
  );
  return check(
    'one training per train step',
    trainSteps.length > 0 && perStep.every(([, count]) => count === 1),
    perStep.map(([step, count]) => `${step} ×${count}`).join(', '),
  );
}

/** Each attempt's train.log (copied to the registry by collect) shows exactly one start of the model. */
async function launchedOnce(ctx: CheckContext, childIds: string[]): Promise<ChaosCheck> {
  const problems: string[] = [];
  let runs = 0;
  for (const id of childIds) {
    const result = await ctx.client.workflow
      .getHandle(id)
      .result()
      .catch(() => undefined);
    const outputs = (result as TrainOnVmResult | undefined)?.outputs;
    if (!result || !outputs) {
      problems.push(`${id}: no result`);
      continue;
    }
    for (const attempt of (result as TrainOnVmResult).attempts) {
      runs++;
      const log = join(outputs.dir, 'runs', attempt.runId, 'train.log');
      const starts = existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((line) => LAUNCH_BANNER.test(line)).length
        : 0;
      if (starts !== 1) problems.push(`${attempt.runId}: ${starts} starts in train.log`);
    }
  }
  return check(
    'each training launched once',
    runs > 0 && problems.length === 0,
    problems.length ? problems.join('; ') : `${runs} training runs, one start each (train.log)`,
  );
}

/** The kinds' own existence checks (the ones the cache uses), for every step that has outputs. */
async function outputsExist(ctx: CheckContext): Promise<ChaosCheck> {
  const activities = createActivities({ bigquery: ctx.bigquery });
  const env = new MockActivityEnvironment();
  const missing: string[] = [];
  let checked = 0;
  for (const step of ctx.status.plan?.steps ?? []) {
    const outputs = ctx.status.steps.find((s) => s.id === step.id)?.outputs ?? {};
    if (Object.keys(outputs).length === 0) continue;
    const execution: Pick<StepExecution, 'step' | 'outputs' | 'workflowId' | 'pipeline'> = {
      step,
      outputs,
      workflowId: ctx.workflowId,
      pipeline: ctx.status.pipeline,
    };
    const exists = (await env.run(activities.outputsExist, execution)) as boolean | null;
    if (exists === null) continue;
    checked++;
    if (!exists) missing.push(`${step.id} (${Object.values(outputs).join(', ')})`);
  }
  return check(
    'every output exists',
    checked > 0 && missing.length === 0,
    missing.length ? `missing: ${missing.join('; ')}` : `${checked} steps' outputs checked`,
  );
}

/**
 * One promote activity, completed once; each model's production alias moved once, from the previous
 * quarter's version to this run's; the production tables replaced by one promotion (one backup set).
 */
async function promotedOnce(ctx: CheckContext, parent: HistoryDigest): Promise<ChaosCheck> {
  const promote = ctx.status.steps.find((step) => step.kind === 'promote');
  if (!promote) return check('the promotion happened once', false, 'no promote step');
  if (promote.outputs.promoted !== 'true') {
    return check('the promotion happened once', false, `not promoted: ${JSON.stringify(promote.info)}`);
  }
  const runs = parent.activities.filter(
    (a) => a.type === 'executeStep' && (a.input as StepExecution | undefined)?.step.id === promote.id,
  );
  const problems: string[] = [];
  if (runs.length !== 1 || runs[0]?.outcome !== 'completed') {
    problems.push(`${runs.length} promote activities (${runs.map((r) => r.outcome).join(', ')})`);
  }
  const registry = createRegistryActivities(ctx.registryDir);
  const versions = (promote.info?.versions ?? {}) as Record<string, string>;
  for (const [model, version] of Object.entries(versions)) {
    const alias = JSON.parse(
      readFileSync(join(ctx.registryDir, model, 'aliases', 'production.json'), 'utf8'),
    ) as { version: string; previous: string | null };
    const current = await registry.getModelAlias({ model });
    if (alias.version !== version || current?.lineage.runId !== ctx.workflowId) {
      problems.push(`${model}@production is ${alias.version}, not this run's ${version}`);
    }
    if (alias.previous !== ctx.previousVersion) {
      problems.push(`${model}@production moved from ${alias.previous}, not from ${ctx.previousVersion}`);
    }
  }
  // The production tables hold this run's predictions (the backups are the run's, gone with cleanup).
  const planned = ctx.status.plan?.steps.find((step) => step.id === promote.id);
  const tables = (planned?.spec.tables ?? []) as { source?: string; target?: string }[];
  for (const { source, target } of tables) {
    const [from, to] = [resolveRef(ctx.status, String(source)), resolveRef(ctx.status, String(target))];
    const [sourceRows, targetRows] = await Promise.all([
      countRows(ctx.bigquery, from),
      countRows(ctx.bigquery, to),
    ]);
    if (sourceRows !== targetRows) problems.push(`${to} holds ${targetRows} rows, ${from} ${sourceRows}`);
  }
  if (tables.length === 0) problems.push('the promote step names no tables');
  return check(
    'the promotion happened once',
    Object.keys(versions).length > 0 && problems.length === 0,
    problems.length
      ? problems.join('; ')
      : `one promote activity; ${Object.keys(versions).length} models moved once from ${ctx.previousVersion}; ${tables.length} production tables hold this run's predictions`,
  );
}

/** `{{steps.<id>.<output>}}` → that step's output name, for specs kept unresolved in the plan. */
const resolveRef = (status: RunStatus, text: string): string =>
  text.replace(/\{\{\s*steps\.(.+?)\.(\w+)\s*\}\}/g, (whole, step: string, output: string) => {
    return status.steps.find((s) => s.id === step)?.outputs[output] ?? whole;
  });

async function countRows(bigquery: BigQuery, table: string): Promise<number | string> {
  try {
    const [rows] = await bigquery.query({
      query: `SELECT COUNT(*) AS n FROM \`${bigquery.projectId}.${table}\``,
    });
    return Number((rows[0] as { n: number }).n);
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  }
}

/**
 * Short activities retried after a worker died came back within the limit (heartbeat timeouts, not
 * hours): from scheduling to closing, less the time an attempt spent blocked on the chaos run's own
 * launch-lock hold (a launch waits there by design; the death-to-retry gap is still counted).
 */
export function recoveredQuickly(
  ctx: Pick<CheckContext, 'recoveryLimitMs' | 'lockWaits'>,
  histories: HistoryDigest[],
  now = Date.now(),
): ChaosCheck {
  const retried = histories.flatMap((history) =>
    history.activities.filter((a) => a.attempt > 1 && !LONG_ACTIVITIES.has(a.type)),
  );
  const waited = (a: ActivityRecord) => {
    const runId = (a.input as { runId?: unknown } | undefined)?.runId;
    if (a.type !== 'launchTraining' || typeof runId !== 'string') return 0;
    const end = a.closedAt ?? now;
    return (ctx.lockWaits ?? [])
      .filter((wait) => wait.runId === runId)
      .reduce(
        (sum, wait) => sum + Math.max(0, Math.min(end, wait.to) - Math.max(a.scheduledAt, wait.from)),
        0,
      );
  };
  const took = (a: ActivityRecord) => (a.closedAt ?? now) - a.scheduledAt - waited(a);
  const slow = retried.filter((a) => took(a) > ctx.recoveryLimitMs);
  const show = (a: ActivityRecord) => {
    const held = waited(a);
    return `${a.type} ×${a.attempt} in ${Math.round(took(a) / 1000)} s${
      held ? ` (+${Math.round(held / 1000)} s blocked on the chaos's lock hold, not counted)` : ''
    }`;
  };
  return check(
    `retried short activities closed within ${ctx.recoveryLimitMs / 1000} s`,
    slow.length === 0,
    retried.length ? retried.map(show).join(', ') : 'none needed a retry',
  );
}

// Records the history of a real visits-scaling run (trainings as trainOnVm children, a failed trend
// training marked succeeded by an operator, no promotion) on a fresh local stack into
// test/histories/, so the replay test guards the runner's train dispatch too:
// `npx tsx scripts/visits-scaling/record-history.ts [name]`. Old histories stay: replaying them is the point.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBigQueryHarness } from '../../test/harness/bigquery';
import { createDevServerEnv } from '../../test/harness/temporal';
import {
  createVisitsScalingStack,
  createVisitsScalingWorker,
  startRun,
  waitForStep,
} from '../../test/integration/visits-scaling-fixtures';
import { markSucceededSignal } from '../../workflows/definitions';
import { projectRoot } from '../../activities/providers/paths';
import { temporalCliPath } from '../stack/temporal';

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'run-pipeline-visits-scaling';
  const [env, bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
  const stack = await createVisitsScalingStack(bq);
  try {
    const worker = await createVisitsScalingWorker({ env, bq, stack });
    const workflowId = await worker.runUntil(async () => {
      const handle = await startRun(env, worker, {
        cutoff: stack.warehouse.cutoff,
        params: { ...stack.params, trend_fail_at_step: 5 },
      });
      await waitForStep(env, handle.workflowId, 'trend.train', 'awaiting-decision');
      await handle.signal(markSucceededSignal, { step: 'trend.train', reason: 'recorded' });
      await handle.result();
      return handle.workflowId;
    });
    const { stdout } = await promisify(execFile)(
      temporalCliPath(),
      ['workflow', 'show', '--address', env.address, '--workflow-id', workflowId, '--output', 'json'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    // Paths name this machine (the checkout, the temp folders), also inside the base64 payloads;
    // replay compares commands, never these values.
    const history = scrub(JSON.parse(stdout)) as { events: unknown[] };
    const file = join(projectRoot, 'test', 'histories', `${name}.json`);
    writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
    console.log(`recorded ${history.events.length} events of ${workflowId} into ${file}`);
  } finally {
    for (const vm of await stack.provider.list()) await stack.provider.stop(vm.name);
    await Promise.all([env.teardown(), bq.stop()]);
  }
}

function scrub(value: unknown): unknown {
  if (typeof value === 'string') return value.split(projectRoot).join('<project>');
  if (Array.isArray(value)) return value.map(scrub);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, item]) => {
      if (key === 'data' && typeof item === 'string' && 'metadata' in value) {
        const text = Buffer.from(item, 'base64').toString('utf8');
        return [key, Buffer.from(text.split(projectRoot).join('<project>'), 'utf8').toString('base64')];
      }
      return [key, scrub(item)];
    });
    return Object.fromEntries(entries);
  }
  return value;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

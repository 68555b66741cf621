// Records the history of a real visits-scaling run (trainings as trainOnVm children, a failed trend
// training marked succeeded by an operator, no promotion) on a fresh local stack into
// test/histories/, so the replay test guards the runner's train dispatch too:
// `npx tsx scripts/visits-scaling/record-history.ts [name]`. Old histories stay: replaying them is the point.
import { startBigQueryHarness } from '../../test/harness/bigquery';
import { createDevServerEnv } from '../../test/harness/temporal';
import {
  createVisitsScalingStack,
  createVisitsScalingWorker,
  startRun,
  waitForStep,
} from '../../test/integration/visits-scaling-fixtures';
import { markSucceededSignal } from '../../workflows/definitions';
import { saveHistory } from '../history-file';

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
    // Paths name this machine (the checkout, the temp folders), also inside the base64 payloads.
    const { file, events } = await saveHistory(env.address, workflowId, name, { payloads: true });
    console.log(`recorded ${events.length} events of ${workflowId} into ${file}`);
  } finally {
    for (const vm of await stack.provider.list()) await stack.provider.stop(vm.name);
    await Promise.all([env.teardown(), bq.stop()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

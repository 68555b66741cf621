// Records the histories of a real runPipeline run with a map step on a fresh dev server into
// test/histories/ (the run: run-pipeline-map.json, one of its batch children: map-batch.json), for
// the replay tests: `npm run record:map-history`. A map of five items in batches of two, one item
// failing once and retried by `retryItem`, an eachBatch step on each finished batch. With
// `--updates` the item actions are Workflow Updates, as the API sends them (run-pipeline-map-updates
// .json): item b retried by its JSON, item d (failing for good) marked succeeded by its index.
import { definePipeline } from '../pipelines';
import { createDevServerEnv } from '../test/harness/temporal';
import { createRunnerWorker, StepScript, waitForStatus } from '../test/workflows/run-pipeline-harness';
import {
  markItemSucceededUpdate,
  retryItemSignal,
  retryItemUpdate,
  runWorkflowId,
} from '../workflows/definitions';
import { runPipeline } from '../workflows/run-pipeline';
import { saveHistory } from './history-file';

const pipeline = definePipeline('map-demo')
  .step('list', { kind: 'script' })
  .step('each', {
    kind: 'script',
    after: ['list'],
    spec: { sensor: '{{item.id}}' },
    outputs: ['table'],
    onFailure: 'wait',
    retry: { maximumAttempts: 1 },
    map: { forEach: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }], batchSize: 2 },
  })
  .step('cluster', { kind: 'script', after: ['each'], eachBatch: true, outputs: ['table'] })
  .build();

async function main(): Promise<void> {
  const updates = process.argv.includes('--updates');
  const env = await createDevServerEnv();
  try {
    const script = new StepScript().behave('each', async (execution) => {
      if (execution.item?.index === 1 && execution.attempt === 1) throw new Error('sensor b offline');
      if (updates && execution.item?.index === 3) throw new Error('sensor d retired');
    });
    const worker = await createRunnerWorker(env, script, [pipeline]);
    const workflowId = runWorkflowId('map-demo', 'recorded');
    const handle = await env.client.workflow.start(runPipeline, {
      args: [{ pipeline: 'map-demo' }],
      workflowId,
      taskQueue: worker.options.taskQueue,
    });
    const result = await worker.runUntil(async () => {
      await waitForStatus(
        handle,
        (s) => s.steps.find((step) => step.id === 'each')?.state === 'awaiting-decision',
      );
      if (updates) {
        await handle.executeUpdate(retryItemUpdate, {
          args: [{ step: 'each', item: '{"id":"b"}', actor: 'recorder' }],
        });
        await handle.executeUpdate(markItemSucceededUpdate, {
          args: [{ step: 'each', item: 3, reason: 'sensor retired', actor: 'recorder' }],
        });
      } else {
        await handle.signal(retryItemSignal, { step: 'each', item: 1 });
      }
      return await handle.result();
    });
    const parent = await save(
      env.address,
      workflowId,
      updates ? 'run-pipeline-map-updates' : 'run-pipeline-map',
    );
    if (updates) {
      console.log(`run ${result.state}`);
      return;
    }
    const childId = parent.events
      .map(
        (event) =>
          (
            event as {
              childWorkflowExecutionStartedEventAttributes?: { workflowExecution?: { workflowId?: string } };
            }
          ).childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId,
      )
      .find((id) => id?.endsWith('-0-1')) as string; // the first batch: items a and b (b fails)
    await save(env.address, childId, 'map-batch');
    console.log(`run ${result.state}`);
  } finally {
    await env.teardown();
  }
}

async function save(address: string, workflowId: string, name: string): Promise<{ events: unknown[] }> {
  const { file, events } = await saveHistory(address, workflowId, name);
  console.log(`recorded ${events.length} events of ${workflowId} into ${file}`);
  return { events };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

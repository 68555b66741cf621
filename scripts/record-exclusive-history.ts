// Records the histories of two runs of one pipeline whose `promote` and `gapfill` name the same
// exclusive lease (as visits-scaling's do), started side by side on a fresh dev server, into
// test/histories/ for the replay test: `npm run record:exclusive-history -- [prefix]` writes
// `<prefix>-a.json` and `<prefix>-b.json` (default prefix run-pipeline-exclusive). Run A's promote
// is held until run B's promote waits for the lease; then everything runs to the end. Old histories
// stay: replaying them with the current code is the point.
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createLeaseActivities } from '../activities/lease';
import { createPlanActivities } from '../activities/plan';
import { projectRoot } from '../activities/providers/paths';
import { createPipelineRegistry, definePipeline, param } from '../pipelines';
import { createDevServerEnv } from '../test/harness/temporal';
import { StepScript, testKinds, waitForStatus } from '../test/workflows/run-pipeline-harness';
import { runPipeline } from '../workflows/run-pipeline';
import { saveHistory } from './history-file';

const once = { retry: { maximumAttempts: 1 } };
const releasing = definePipeline('releasing', { parameters: { dataset: param.string({ default: 'prod' }) } })
  .step('prepare', { kind: 'script', ...once })
  .step('promote', { kind: 'script', after: ['prepare'], exclusive: 'production:{{dataset}}', ...once })
  .step('gapfill', { kind: 'script', after: ['promote'], exclusive: 'production:{{dataset}}', ...once })
  .step('cleanup', { kind: 'script', after: ['gapfill'], ...once })
  .build();

async function main(): Promise<void> {
  const prefix = process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 'run-pipeline-exclusive';
  const env = await createDevServerEnv();
  try {
    const script = new StepScript();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    script.behave('promote', async (execution) => {
      if (execution.workflowId.endsWith('/a')) await gate;
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `record-exclusive-${randomUUID()}`,
      workflowsPath: join(projectRoot, 'workflows', 'index.ts'),
      activities: {
        ...createPlanActivities({ pipelines: createPipelineRegistry([releasing]), kinds: testKinds }),
        ...script.activities(),
        ...createLeaseActivities(),
      },
    });
    const start = (id: string) =>
      env.client.workflow.start(runPipeline, {
        args: [{ pipeline: 'releasing', params: { dataset: 'recorded' } }],
        workflowId: id,
        taskQueue: worker.options.taskQueue,
      });
    const ids = ['releasing/recorded/a', 'releasing/recorded/b'];
    await worker.runUntil(async () => {
      const a = await start(ids[0] as string);
      await script.when('promote', 'start');
      const b = await start(ids[1] as string);
      await waitForStatus(b, (s) => s.steps.some((step) => step.id === 'promote' && step.note !== undefined));
      open();
      await Promise.all([a.result(), b.result()]);
    });
    for (const [index, workflowId] of ids.entries()) {
      const { file, events } = await saveHistory(
        env.address,
        workflowId,
        `${prefix}-${index === 0 ? 'a' : 'b'}`,
      );
      console.log(`recorded ${events.length} events of ${workflowId} into ${file}`);
    }
  } finally {
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// Records the history of a real runPipeline run on a fresh dev server into test/histories/, for the
// replay test. Run it when the workflow changes on purpose (with patched()) to keep a history of the
// new shape too: `npm run record:runner-history -- [name] [--updates]`. Old histories stay: replaying
// them is the point. `--updates` answers the run with Workflow Updates (as the API does) instead of
// the CLI's signals: `npm run record:runner-history -- run-pipeline-operator-updates --updates`.
import { createOperatorWorker, driveOperatorRun } from '../test/integration/runner-fixtures';
import { startWebhookReceiver } from '../test/integration/runner-receivers';
import { createDevServerEnv } from '../test/harness/temporal';
import { runWorkflowId } from '../workflows/definitions';
import { saveHistory } from './history-file';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const by = args.includes('--updates') ? 'update' : 'signal';
  const name = args.find((arg) => !arg.startsWith('--')) ?? 'run-pipeline-operator';
  const [env, webhook] = await Promise.all([createDevServerEnv(), startWebhookReceiver()]);
  try {
    const worker = await createOperatorWorker(env, webhook.url);
    const workflowId = runWorkflowId('operator-demo', 'recorded');
    const result = await driveOperatorRun(env, worker, webhook, workflowId, by);
    const { file, events } = await saveHistory(env.address, workflowId, name);
    console.log(`recorded ${events.length} events of ${workflowId} (${result.state}) into ${file}`);
  } finally {
    await Promise.all([env.teardown(), webhook.close()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// Records the history of a real runPipeline run on a fresh dev server into test/histories/, for the
// replay test. Run it when the workflow changes on purpose (with patched()) to keep a history of the
// new shape too: `npm run record:runner-history -- [name] [--updates]`. Old histories stay: replaying
// them is the point. `--updates` answers the run with Workflow Updates (as the API does) instead of
// the CLI's signals: `npm run record:runner-history -- run-pipeline-operator-updates --updates`.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { createOperatorWorker, driveOperatorRun } from '../test/integration/runner-fixtures';
import { startWebhookReceiver } from '../test/integration/runner-receivers';
import { createDevServerEnv } from '../test/harness/temporal';
import { runWorkflowId } from '../workflows/definitions';
import { projectRoot } from '../activities/providers/paths';
import { temporalCliPath } from './stack/temporal';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const by = args.includes('--updates') ? 'update' : 'signal';
  const name = args.find((arg) => !arg.startsWith('--')) ?? 'run-pipeline-operator';
  const [env, webhook] = await Promise.all([createDevServerEnv(), startWebhookReceiver()]);
  try {
    const worker = await createOperatorWorker(env, webhook.url);
    const workflowId = runWorkflowId('operator-demo', 'recorded');
    const result = await driveOperatorRun(env, worker, webhook, workflowId, by);
    // The CLI's JSON is the format the Web UI downloads and historyFromJSON reads.
    const { stdout } = await promisify(execFile)(
      temporalCliPath(),
      ['workflow', 'show', '--address', env.address, '--workflow-id', workflowId, '--output', 'json'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    // Stack traces name this machine's paths; replay never reads them, so they are scrubbed.
    const history = JSON.parse(stdout.split(projectRoot).join('<project>')) as { events: unknown[] };
    const dir = join(projectRoot, 'test', 'histories');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
    console.log(`recorded ${history.events.length} events of ${workflowId} (${result.state}) into ${file}`);
  } finally {
    await Promise.all([env.teardown(), webhook.close()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

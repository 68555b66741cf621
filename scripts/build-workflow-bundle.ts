// Prebuilds the workflow bundle for production workers (`WORKFLOW_BUNDLE=<file>`), so a worker never
// runs webpack at start-up and every worker of a deployment runs byte-identical workflow code.
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { workflowsPath } from '../workers/worker';

export async function buildWorkflowBundle(outFile: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath() });
  const target = resolve(outFile);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, code);
  return target;
}

if (require.main === module) {
  const out = process.argv[2] ?? 'dist/workflow-bundle.js';
  buildWorkflowBundle(out).then(
    (file) => console.log(`workflow bundle written to ${file}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

// Saves a workflow's history as test/histories/<name>.json for the replay tests, in the format the
// Web UI downloads and historyFromJSON reads (the CLI's JSON). Used by the record-* scripts.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../activities/providers/paths';
import { temporalCliPath } from './stack/temporal';

/**
 * Writes the history of `workflowId` (on the server at `address`) into test/histories/<name>.json.
 * Paths of this machine (the checkout) are replaced by `<project>`: in the JSON text, and with
 * `payloads` also inside the base64 payloads (a run whose activities return paths); replay compares
 * commands, never these values.
 */
export async function saveHistory(
  address: string,
  workflowId: string,
  name: string,
  options: { payloads?: boolean } = {},
): Promise<{ file: string; events: unknown[] }> {
  const { stdout } = await promisify(execFile)(
    temporalCliPath(),
    ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const history = (
    options.payloads ? scrub(JSON.parse(stdout)) : JSON.parse(stdout.split(projectRoot).join('<project>'))
  ) as { events: unknown[] };
  const dir = join(projectRoot, 'test', 'histories');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(history, null, 1)}\n`);
  return { file, events: history.events };
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

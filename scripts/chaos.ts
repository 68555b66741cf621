// `npm run chaos [-- --seed N --workers N --train-seconds S]`: visits-scaling on a local stack of
// its own (under .data/chaos/<time>/, stopped at the end, kept for a look) while the worker is killed
// 3 times (once inside a training's launch), every SSH connection is cut 10 times and the Temporal
// dev server restarts once, at seeded random moments; then checks and a summary. Exit code 1 when
// a check fails. See docs/operations.md.
import { parseArgs } from 'node:util';
import { dataDir } from '../activities/providers/paths';
import { formatReport, runChaos } from './chaos/run-chaos';

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`--${name} must be an integer ≥ ${min}, not ${JSON.stringify(value)}`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      workers: { type: 'string' },
      'train-seconds': { type: 'string' },
      'worker-kills': { type: 'string' },
      'ssh-cuts': { type: 'string' },
    },
    strict: true,
  });
  const trainSeconds = positiveInt('train-seconds', values['train-seconds'], 60, 10);
  const report = await runChaos({
    dir: dataDir('chaos', new Date().toISOString().replace(/[:.]/g, '-')),
    seed: positiveInt('seed', values.seed, Math.floor(Math.random() * 1_000_000), 0),
    workers: positiveInt('workers', values.workers, 1),
    replaceKilled: true,
    workerKills: positiveInt('worker-kills', values['worker-kills'], 3, 0),
    sshCuts: positiveInt('ssh-cuts', values['ssh-cuts'], 10, 0),
    serverRestarts: 1,
    trainSeconds,
    // Trainings: three at once, then real visits: the faults fall while they run.
    spreadSeconds: Math.round(trainSeconds * 1.8),
    timeoutMs: 30 * 60_000,
  });
  console.log(`\n${formatReport(report)}`);
  if (!report.ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});

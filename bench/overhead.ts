// Per-step overhead of the runner on a Temporal dev server, with the built-in `echo` kind (no work):
// a chain of 100 steps (ms per chained step), fan-outs of 1,000 and 10,000 map items (seconds, ms per
// item, events in the largest history: the run's or a batch child's), and the worker's peak RSS.
// Prints figures; asserts nothing (test/integration/wide-runs.test.ts checks the limits).
//
//   npm run bench -- overhead [--chain 100] [--items 1000,10000] [--concurrency 500]
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { cpus, loadavg } from 'node:os';
import { createDevServerEnv } from '../test/harness/temporal';
import {
  createEchoWorker,
  echoChain,
  echoMap,
  runAndMeasure,
  type RunFigures,
} from '../test/integration/fixtures/wide';

const arg = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const chainLength = Number(arg('--chain', '100'));
  const itemCounts = arg('--items', '1000,10000').split(',').map(Number);
  const concurrency = Number(arg('--concurrency', '500'));
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, node ${process.version}`,
  );
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const env = await createDevServerEnv();
  try {
    const chain = echoChain(chainLength);
    const warmUp = echoChain(3);
    const maps = itemCounts.map((items) => echoMap(items, concurrency));
    const worker = await createEchoWorker(env, [warmUp, chain, ...maps]);
    await worker.runUntil(async () => {
      // A warm-up run, so the figures leave out bundling and connection set-up.
      await runAndMeasure(env, worker, warmUp);
      const chained = await runAndMeasure(env, worker, chain);
      line(`chain of ${chainLength}`, chained, chainLength, 'ms per chained step');
      for (const [i, map] of maps.entries()) {
        peakRss = process.memoryUsage().rss;
        const figures = await runAndMeasure(env, worker, map);
        line(`map of ${itemCounts[i]} items`, figures, itemCounts[i] as number, 'ms per item');
      }
    });
  } finally {
    clearInterval(sampler);
    await env.teardown();
  }

  function line(name: string, figures: RunFigures, count: number, unit: string): void {
    console.log(
      `${name}: ${figures.summary.state} in ${figures.seconds.toFixed(1)} s, ` +
        `${((figures.seconds * 1000) / count).toFixed(1)} ${unit}, ` +
        `largest history ${figures.largestHistory} events (${figures.histories.length} histories), ` +
        `worker RSS peak ${Math.round(peakRss / 1024 / 1024)} MB`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

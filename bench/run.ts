// `npm run bench -- <name> [options]` runs bench/<name>.ts with the options. Without a name it only
// lists the benchmarks with their first comment line: some run for many minutes and start servers,
// trainings and VMs, so none starts by surprise. `npm run bench -- all` runs each with its defaults.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const available = readdirSync(__dirname)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -3))
  .sort();
const [name, ...options] = process.argv.slice(2);

/** The first comment line of a benchmark: what it measures. */
const summary = (bench: string): string =>
  (readFileSync(join(__dirname, `${bench}.ts`), 'utf8').split('\n')[0] ?? '').replace(/^\/\/\s*/, '');

if (name === undefined) {
  console.log('usage: npm run bench -- <name> [options]   (or `all`: every benchmark, with its defaults)\n');
  for (const bench of available) console.log(`  ${bench.padEnd(22)} ${summary(bench)}`);
  process.exit(0);
}
if (name !== 'all' && !available.includes(name)) {
  console.error(`unknown benchmark ${JSON.stringify(name)}; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const bench of name === 'all' ? available : [name]) {
  console.log(`== ${bench}`);
  const result = spawnSync('npx', ['tsx', join(__dirname, `${bench}.ts`), ...options], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

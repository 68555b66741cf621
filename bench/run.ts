// `npm run bench -- <name> [options]` runs bench/<name>.ts with the options; without a name, every
// benchmark in bench/ with its defaults.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const available = readdirSync(__dirname)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -3));
const [name, ...options] = process.argv.slice(2);
if (name !== undefined && !available.includes(name)) {
  console.error(`unknown benchmark ${JSON.stringify(name)}; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const bench of name === undefined ? available : [name]) {
  console.log(`== ${bench}`);
  const result = spawnSync('npx', ['tsx', join(__dirname, `${bench}.ts`), ...options], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

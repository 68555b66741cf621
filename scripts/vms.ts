// Operator CLI for the configured VM provider (`VM_PROVIDER`, local by default):
//   npm run vms -- list [label=value ...]     instances carrying all the labels, one JSON line each
//   npm run vms -- status|start|stop|delete NAME
//   npm run vms -- stop-all [label=value ...] stops every matching instance (e.g. after a crashed demo)
import { createVmProvider } from '../activities/providers';
import { loadConfig } from '../config';

function labelsOf(args: string[]): Record<string, string> {
  return Object.fromEntries(
    args.map((arg) => {
      const [key, ...value] = arg.split('=');
      if (!key || value.length === 0) throw new Error(`expected label=value, got ${arg}`);
      return [key, value.join('=')];
    }),
  );
}

async function main(): Promise<void> {
  const [action, ...args] = process.argv.slice(2);
  const provider = createVmProvider(loadConfig());
  const name = args[0] ?? '';
  switch (action) {
    case 'list':
      for (const vm of await provider.list(labelsOf(args))) console.log(JSON.stringify(vm));
      return;
    case 'stop-all':
      for (const vm of await provider.list(labelsOf(args))) {
        await provider.stop(vm.name);
        console.log(JSON.stringify(await provider.status(vm.name)));
      }
      return;
    case 'status':
      return console.log(JSON.stringify(await provider.status(name)));
    case 'start':
      return console.log(JSON.stringify(await provider.start(name)));
    case 'stop':
      await provider.stop(name);
      return console.log(JSON.stringify(await provider.status(name)));
    case 'delete':
      await provider.delete(name);
      return console.log(JSON.stringify(await provider.status(name)));
    default:
      throw new Error('usage: vms list|stop-all [label=value ...] | vms status|start|stop|delete NAME');
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

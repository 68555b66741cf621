// `npm run stack -- start|stop [--vms]|status|restart temporal|reset`: the local stack in the
// background, for the demo and for poking around in the Web UI. Tests never use it: they start their
// own servers on free ports.
import {
  describeStack,
  resetLocalStack,
  restartTemporal,
  stackStatus,
  startLocalStack,
  stopLocalStack,
  type ServiceStatus,
} from './stack/local-stack';

const USAGE = 'usage: npm run stack -- start | stop [--vms] | status | restart temporal | reset';

class UsageError extends Error {}

const line = (name: string, service: ServiceStatus | undefined) =>
  `${name.padEnd(10)}${service?.address ?? ''}  ${
    service?.serving ? `running (pid ${service.pid ?? 'unknown'})` : 'NOT ANSWERING'
  }`;

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const expect = (allowed: string[][]) => {
    if (!allowed.some((form) => form.length === rest.length && form.every((arg, i) => arg === rest[i])))
      throw new UsageError(`unexpected arguments for ${command}: ${JSON.stringify(rest)}`);
  };
  switch (command) {
    case 'start': {
      expect([[]]);
      const state = await startLocalStack();
      console.log(`local stack running:\n${describeStack(state)}\nstop it with: npm run stack -- stop`);
      return;
    }
    case 'stop': {
      expect([[], ['--vms']]);
      const { vms } = await stopLocalStack({ vms: rest[0] === '--vms' });
      console.log('local stack stopped (data kept in .data/)');
      console.log(
        rest[0] === '--vms'
          ? `local VMs stopped: ${vms.length ? vms.join(', ') : 'none was running'}`
          : 'local VMs left as they are (trainings keep running); stop them too with: npm run stack -- stop --vms',
      );
      return;
    }
    case 'restart': {
      expect([['temporal']]);
      const state = await restartTemporal();
      console.log(`Temporal dev server restarted (pid ${state.temporal.pid}):\n${describeStack(state)}`);
      return;
    }
    case 'reset':
      expect([[]]);
      await resetLocalStack();
      console.log('local stack and local VMs stopped and the local state (.data/) deleted');
      return;
    case 'status': {
      expect([[]]);
      const status = await stackStatus();
      if (!status.state) {
        console.log('not running');
        return;
      }
      console.log(status.running ? 'running:' : 'not running (partly):');
      console.log(line('Temporal', status.temporal));
      console.log(line('BigQuery', status.bigquery));
      if (status.running) console.log(describeStack(status.state));
      return;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

// `npm run stack -- start|stop|status|reset`: the local stack in the background, for the demo and for
// poking around in the Web UI. Tests never use it: they start their own servers on free ports.
import {
  describeStack,
  resetLocalStack,
  runningStack,
  startLocalStack,
  stopLocalStack,
} from './stack/local-stack';

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'start': {
      const state = await startLocalStack();
      console.log(`local stack running:\n${describeStack(state)}\nstop it with: npm run stack -- stop`);
      return;
    }
    case 'stop':
      await stopLocalStack();
      console.log('local stack stopped (data kept in .data/)');
      return;
    case 'reset':
      await resetLocalStack();
      console.log('local stack stopped and its state (.data/) deleted');
      return;
    case 'status': {
      const state = await runningStack();
      console.log(state ? `running:\n${describeStack(state)}` : 'not running');
      return;
    }
    default:
      console.error('usage: npm run stack -- start|stop|status|reset');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

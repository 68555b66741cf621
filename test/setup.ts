// Runs in every test worker before its suites: the SDK's info logs (webpack output, worker state
// changes) drown the test report, so only warnings and errors are shown. They are also kept in
// harness/logs.ts for tests that assert on them.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loggedEntries } from './harness/logs';

const printer = new DefaultLogger('WARN');
Runtime.install({
  logger: new DefaultLogger('WARN', (entry) => {
    loggedEntries.push(entry);
    printer.log(entry.level, entry.message, entry.meta);
  }),
});

// Runs in every test worker before its suites: the SDK's info logs (webpack output, worker state
// changes) drown the test report, so only warnings and errors are shown.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

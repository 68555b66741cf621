import { afterAll, beforeAll } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import type { SyntheticOptions } from '../../pipelines/visits-scaling/synthetic/generate';
import { startBigQueryHarness } from '../harness/bigquery';
import { createDevServerEnv } from '../harness/temporal';
import { createVisitsScalingStack, type VisitsScalingSuite } from './visits-scaling-fixtures';

// Apart from visits-scaling-fixtures.ts: scripts/visits-scaling/record-history.ts uses those
// fixtures outside vitest, where importing vitest throws.

/**
 * Registers the beforeAll/afterAll of a visits-scaling suite: a dev server and a BigQuery emulator of
 * its own, then the stack (`synthetic` sizes its warehouse); at the end every local VM is stopped,
 * then both servers.
 */
export function useVisitsScalingSuite(synthetic: Partial<SyntheticOptions> = {}): VisitsScalingSuite {
  const suite = {} as VisitsScalingSuite;
  beforeAll(async () => {
    [suite.env, suite.bq] = await Promise.all([createDevServerEnv(), startBigQueryHarness()]);
    suite.stack = await createVisitsScalingStack(suite.bq, synthetic);
    suite.warehouse = createBigQueryActivities(suite.bq.bigquery, suite.bq.config);
  }, 180_000); // two servers, the synthetic warehouse and the workflow bundle, on a busy machine
  afterAll(async () => {
    for (const vm of (await suite.stack?.provider.list()) ?? []) await suite.stack.provider.stop(vm.name);
    await Promise.all([suite.env?.teardown(), suite.bq?.stop()]);
  });
  return suite;
}

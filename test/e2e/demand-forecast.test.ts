import { describe, expect, it } from 'vitest';
import { createBigQueryActivities } from '../../activities/bigquery';
import { runDemo } from '../../scripts/demo/run-demo';
import { expectListedAndBadParamsRejected, useE2eStack } from '../harness/e2e-stack';

const PIPELINE = 'demand-forecast';

describe('demand-forecast end to end: HTTP API, dev server, emulator, one sshd + tmux VM per cutoff', () => {
  const stack = useE2eStack('forecast');

  it('lists the pipeline and rejects a bad environment or only_last at start, naming the field', async () => {
    await expectListedAndBadParamsRejected(stack.config, PIPELINE, [
      [{ environment: 'staging' }, 'environment'],
      [{ environment: '../prod' }, 'environment'],
      [{ only_last: 'sometimes' }, 'only_last'],
    ]);
  });

  it('trains every cutoff on its own VM with the dev configuration and writes each cutoff’s forecasts', async () => {
    const { view, facts } = await runDemo({
      config: stack.config,
      bigquery: stack.bq.bigquery,
      connection: stack.env.nativeConnection,
      pipeline: PIPELINE,
      print: () => undefined,
    });
    expect(view.run.state).toBe('succeeded');
    const cutoffs = facts.cutoffs as string[];
    expect(cutoffs).toHaveLength(3);
    const train = view.run.steps.find((step) => step.id === 'train');
    expect(train?.map).toMatchObject({ total: 3, succeeded: 3, failed: 0 });

    // Forecasts went to the dev output dataset, per cutoff: every active item, 8 weeks after its cutoff.
    const warehouse = createBigQueryActivities(stack.bq.bigquery, stack.bq.config);
    const rows = await warehouse.queryRows({
      sql: `SELECT CAST(cutoff AS STRING) AS cutoff, COUNT(DISTINCT item_id) AS items, COUNT(*) AS n,
              MIN(DATE_DIFF(week, cutoff, DAY)) AS first_day, MAX(horizon) AS horizon,
              COUNT(DISTINCT model_version) AS versions, MIN(forecast) AS low
            FROM \`forecast_dev.forecasts\` GROUP BY cutoff ORDER BY cutoff`,
    });
    expect(rows.map((row) => row.cutoff)).toEqual(cutoffs);
    for (const row of rows) {
      // Three items sell (dev extract); the discontinued one gets no forecast.
      expect(row).toMatchObject({ items: 3, n: 24, first_day: 7, horizon: 8, versions: 1 });
      expect(Number(row.low)).toBeGreaterThanOrEqual(0);
    }
    // Nothing was written for prod.
    expect(
      (await warehouse.describeTable({ table: { dataset: 'forecast', table: 'forecasts' } })).exists,
    ).toBe(false);
    // Three cutoffs, each trained by a job on a VM of its own (with the Holt-Winters program): over a
    // minute on 2 cores, more on a machine shared with other suites.
  }, 400_000);
});

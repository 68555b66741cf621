import type { BigQuery } from '@google-cloud/bigquery';
import { heartbeat } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { runQueryJob } from './bigquery';
import { checkIdentifier } from './bigquery/identifiers';
import { SshSession, shellQuote, type SshTarget } from './remote/ssh';

export interface WarehouseRoundTripInput {
  dataset: string;
  table: string;
}

export interface RemoteRoundTripInput {
  session: string;
}

/**
 * Activities of the `stackCheck` workflow: one real round trip through each outside system of the
 * local stack (warehouse, VM over SSH + tmux). The demo and the smoke tests run them.
 */
export function createStackCheckActivities(deps: { bigquery: BigQuery; vm?: () => SshTarget }) {
  return {
    /** Creates a dataset and a table by SQL, then reads an aggregate back. */
    async warehouseRoundTrip(input: WarehouseRoundTripInput): Promise<{ rows: number; total: number }> {
      // Both names reach SQL: only identifiers pass (a failure names the bad one, non-retryable).
      checkIdentifier('dataset', input.dataset);
      checkIdentifier('table', input.table);
      const dataset = deps.bigquery.dataset(input.dataset);
      const [exists] = await dataset.exists();
      if (!exists) await dataset.create();
      const table = `\`${input.dataset}.${input.table}\``;
      await runQueryJob(
        deps.bigquery,
        `CREATE OR REPLACE TABLE ${table} AS SELECT n AS id, n * 10 AS visits FROM UNNEST(GENERATE_ARRAY(1, 5)) AS n`,
      );
      const rows = await runQueryJob(
        deps.bigquery,
        `SELECT COUNT(*) AS rows, SUM(visits) AS total FROM ${table}`,
      );
      const row = rows[0] as { rows: number; total: number };
      return { rows: Number(row.rows), total: Number(row.total) };
    },

    /** Starts a detached tmux job on the VM, drops the connection, reconnects and reads its output. */
    async remoteTmuxRoundTrip(input: RemoteRoundTripInput): Promise<{ output: string }> {
      if (!deps.vm) throw new Error('no VM configured for remoteTmuxRoundTrip');
      if (typeof input.session !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(input.session)) {
        throw ApplicationFailure.create({
          type: 'InvalidInput',
          message: `session ${JSON.stringify(input.session)}: expected a letter or digit, then letters, digits, _ and - (at most 64)`,
          nonRetryable: true,
        });
      }
      const target = deps.vm();
      // Checked above and quoted anyway: the path reaches a shell three times.
      const dir = `"$HOME"/stack-check/${shellQuote(input.session)}`;
      const job = `echo "hello from $(hostname) in tmux" > ${dir}/out.txt; echo done >> ${dir}/out.txt`;
      const first = await SshSession.connect(target);
      try {
        await first.run(
          `mkdir -p ${dir} && tmux new-session -d -s ${shellQuote(input.session)} ${shellQuote(`bash -c ${shellQuote(job)} < /dev/null`)}`,
        );
      } finally {
        first.destroy();
      }
      const second = await SshSession.connect(target);
      try {
        for (let attempt = 0; attempt < 50; attempt++) {
          heartbeat({ attempt });
          const result = await second.exec(`grep -q done ${dir}/out.txt && cat ${dir}/out.txt`);
          if (result.code === 0) return { output: result.stdout.trim() };
          await sleep(100);
        }
        throw new Error(`tmux job ${input.session} wrote no output`);
      } finally {
        second.close();
      }
    },
  };
}

export type StackCheckActivities = ReturnType<typeof createStackCheckActivities>;

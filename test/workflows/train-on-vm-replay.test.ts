import { Worker } from '@temporalio/worker';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHistory } from '../replay/history';
import { trainOnVmPath } from '../integration/fixtures/training';

// Histories of real trainOnVm runs on the local stack, recorded by
// test/workflows/fixtures/record-train-on-vm-history.ts. In-flight trainings last days: every change
// to trainOnVm must still replay them (or go behind patched()).
const historiesDir = join(__dirname, '..', 'histories');
const histories = readdirSync(historiesDir)
  .filter((file) => file.startsWith('train-on-vm') && file.endsWith('.json'))
  .map((file) => ({ file, history: loadHistory(join(historiesDir, file)) }));

describe('trainOnVm replays recorded histories', () => {
  it('has a recorded history with a crash retried from the checkpoint', () => {
    expect(histories.length).toBeGreaterThan(0);
    const monitors = histories[0]?.history.events?.filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'monitorTraining',
    );
    expect(monitors).toHaveLength(2);
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = Worker.runReplayHistories(
      { workflowsPath: trainOnVmPath, replayName: 'trainOnVm' },
      histories.map(({ file, history }) => ({ workflowId: file, history })),
    );
    const failures: string[] = [];
    for await (const result of results) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});

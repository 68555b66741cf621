import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../workers/worker';
import { loadHistory } from './history';

// Histories of real runs on the dev server, recorded by scripts/record-runner-history.ts.
const historiesDir = join(__dirname, '..', 'histories');
const histories = readdirSync(historiesDir)
  .filter((file) => file.startsWith('run-pipeline') && file.endsWith('.json'))
  .map((file) => ({ file, history: loadHistory(join(historiesDir, file)) }));

const fixture = (name: string) => join(__dirname, 'fixtures', name);
const operatorRun = histories.find(({ file }) => file === 'run-pipeline-operator.json');

describe('runPipeline replays recorded histories', () => {
  it('has at least one recorded history with operator signals in it', () => {
    expect(histories.length).toBeGreaterThan(0);
    const signals = operatorRun?.history.events?.filter(
      (event) => event.workflowExecutionSignaledEventAttributes,
    );
    expect(signals?.map((event) => event.workflowExecutionSignaledEventAttributes?.signalName)).toEqual([
      'markSucceeded',
      'approve',
    ]);
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = Worker.runReplayHistories(
      { workflowsPath: workflowsPath(), replayName: 'runPipeline' },
      histories.map(({ file, history }) => ({ workflowId: file, history })),
    );
    const failures: string[] = [];
    for await (const result of results) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });

  it('has a recorded run with a map step (batch children, retryItem) and replays its batch child', async () => {
    const map = histories.find(({ file }) => file === 'run-pipeline-map.json');
    const events = map?.history.events ?? [];
    expect(events.filter((e) => e.childWorkflowExecutionStartedEventAttributes).length).toBeGreaterThan(2);
    expect(events.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName).filter(Boolean)).toEqual(
      ['retryItem'],
    );
    await Worker.runReplayHistory(
      { workflowsPath: workflowsPath(), replayName: 'mapBatch' },
      loadHistory(join(historiesDir, 'map-batch.json')),
    );
  });

  it('fails on an incompatible change (a new timer without patched())', async () => {
    await expect(
      Worker.runReplayHistory({ workflowsPath: fixture('run-pipeline-changed.ts') }, operatorRun?.history),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('accepts the same change behind patched()', async () => {
    await Worker.runReplayHistory(
      { workflowsPath: fixture('run-pipeline-patched.ts') },
      operatorRun?.history,
    );
  });
});

import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../workers/worker';
import { loadHistory } from './history';

const decode = (payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | undefined) =>
  payload ? defaultPayloadConverter.fromPayload(payload) : undefined;

// Histories of real runs on the dev server, recorded by scripts/record-runner-history.ts and
// scripts/record-map-history.ts (`--updates`: answered by Workflow Updates, as the API does).
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

  it('has recorded runs answered by Updates (operator and map item actions), replayed with the rest', () => {
    const accepted = (file: string) => {
      const events = histories.find((h) => h.file === file)?.history.events ?? [];
      expect(events.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(false);
      return events
        .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input)
        .filter(Boolean)
        .map((input) => ({ name: input?.name, ...(decode(input?.args?.payloads?.[0]) as object) }));
    };
    // A rejected Update (approve of a step that needs none) was sent first: it left no event.
    expect(accepted('run-pipeline-operator-updates.json')).toEqual([
      { name: 'markSucceeded', step: 'right.train', reason: 'checked', actor: 'recorder' },
      { name: 'approve', actor: 'recorder' },
    ]);
    expect(accepted('run-pipeline-map-updates.json')).toEqual([
      { name: 'retryItem', step: 'each', item: '{"id":"b"}', actor: 'recorder' },
      { name: 'markItemSucceeded', step: 'each', item: 3, reason: 'sensor retired', actor: 'recorder' },
    ]);
  });

  it('has a recorded run whose echo steps ran as local activities (markers, patch local-activity-kinds)', () => {
    const events =
      histories.find((h) => h.file === 'run-pipeline-local-activities.json')?.history.events ?? [];
    const markers = events.map((e) => e.markerRecordedEventAttributes?.markerName).filter(Boolean);
    expect(markers.filter((name) => name === 'core_local_activity')).toHaveLength(4);
    expect(markers).toContain('core_patch');
    expect(
      events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeStep'),
    ).toBe(
      true, // the failing `broken` kind is still an ordinary activity
    );
  });

  it('has recorded runs of exclusive steps: leases per step (before the span) and one lease from promote through gapfill', () => {
    const leaseCalls = (file: string) =>
      (histories.find((h) => h.file === file)?.history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter((name) => name?.endsWith('InstanceLease'));
    const markers = (file: string) =>
      (histories.find((h) => h.file === file)?.history.events ?? []).filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_patch',
      ).length;
    const perStep = [
      'requestInstanceLease',
      'releaseInstanceLease',
      'requestInstanceLease',
      'releaseInstanceLease',
    ];
    expect(leaseCalls('run-pipeline-exclusive-steps-a.json')).toEqual(perStep);
    expect(leaseCalls('run-pipeline-exclusive-steps-b.json')).toEqual(perStep);
    expect(leaseCalls('run-pipeline-exclusive-span-a.json')).toEqual([
      'requestInstanceLease',
      'releaseInstanceLease',
    ]);
    expect(leaseCalls('run-pipeline-exclusive-span-b.json')).toEqual([
      'requestInstanceLease',
      'releaseInstanceLease',
    ]);
    // bounded-scheduler and exclusive-steps; the span runs add exclusive-span.
    expect(markers('run-pipeline-exclusive-steps-a.json')).toBe(2);
    expect(markers('run-pipeline-exclusive-span-a.json')).toBe(3);
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

import { describe, expect, it } from 'vitest';
import { recoveredQuickly, type LockWait } from '../../scripts/chaos/checks';
import type { ActivityRecord, HistoryDigest } from '../../scripts/chaos/history';

// The chaos run's recovery check: a retried short activity must close within the limit of its
// scheduling, not counting the time an attempt waited on the chaos run's own launch-lock hold.

const s = 1000;
const T0 = Date.UTC(2026, 11, 1, 12);
const activity = (over: Partial<ActivityRecord>): ActivityRecord => ({
  type: 'launchTraining',
  taskQueue: 'q',
  input: { vmName: 'vm-1', runId: 'run-a' },
  scheduledAt: T0,
  closedAt: T0 + 190 * s,
  attempt: 2,
  outcome: 'completed',
  ...over,
});
const digest = (...activities: ActivityRecord[]): HistoryDigest => ({
  workflowId: 'wf',
  activities,
  identities: new Set(),
  trainingChildren: [],
});
const limit = { recoveryLimitMs: 180 * s };

describe('chaos recovery check', () => {
  // The failed full run: the launch waited 5 s → 60 s on the hold before its worker was killed, then
  // the retry started at 95 s (35 s of heartbeat timeout and backoff) and waited until the release at
  // 170 s; it closed at 190 s. 190 s in all, 55 s + 75 s of it blocked on the hold by design.
  const waits: LockWait[] = [
    { runId: 'run-a', from: T0 + 5 * s, to: T0 + 60 * s },
    { runId: 'run-a', from: T0 + 95 * s, to: T0 + 170 * s },
  ];

  it('does not count the time a launch was blocked on the chaos lock hold', () => {
    const result = recoveredQuickly({ ...limit, lockWaits: waits }, [digest(activity({}))]);
    expect(result.ok).toBe(true);
    expect(result.detail).toBe(
      "launchTraining ×2 in 60 s (+130 s blocked on the chaos's lock hold, not counted)",
    );
  });

  it('still counts the gap between the worker death and the retry, and fails a slow one', () => {
    // The retry only started at 250 s: 195 s of recovery even with both waits taken out.
    const late = [waits[0]!, { runId: 'run-a', from: T0 + 250 * s, to: T0 + 260 * s }];
    const slow = activity({ closedAt: T0 + 270 * s });
    const result = recoveredQuickly({ ...limit, lockWaits: late }, [digest(slow)]);
    expect(result.ok).toBe(false);
    expect(result.detail).toContain('in 205 s');
  });

  it('takes out only waits of the same launch, and none from other activities', () => {
    const other = [{ runId: 'run-b', from: T0, to: T0 + 190 * s }];
    expect(recoveredQuickly({ ...limit, lockWaits: other }, [digest(activity({}))]).ok).toBe(false);
    const collect = activity({ type: 'collectTraining', input: { runId: 'run-a' } });
    expect(recoveredQuickly({ ...limit, lockWaits: waits }, [digest(collect)]).ok).toBe(false);
    // Waits outside the activity's life count for nothing; long activities and first attempts are not judged.
    const before = [{ runId: 'run-a', from: T0 - 100 * s, to: T0 }];
    expect(recoveredQuickly({ ...limit, lockWaits: before }, [digest(activity({}))]).ok).toBe(false);
    const monitor = activity({ type: 'monitorTraining', closedAt: T0 + 3600 * s });
    const first = activity({ attempt: 1, closedAt: T0 + 3600 * s });
    expect(recoveredQuickly(limit, [digest(monitor, first)])).toMatchObject({
      ok: true,
      detail: 'none needed a retry',
    });
  });

  it('judges a pending retried activity up to now', () => {
    const pending = activity({ closedAt: undefined, outcome: undefined });
    expect(recoveredQuickly(limit, [digest(pending)], T0 + 100 * s).ok).toBe(true);
    expect(recoveredQuickly(limit, [digest(pending)], T0 + 200 * s).ok).toBe(false);
  });
});

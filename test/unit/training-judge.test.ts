import { describe, expect, it } from 'vitest';
import { checkConvergence, judgeAttempt, type JudgeInput } from '../../activities/training/judge';
import { applyProbe, foldMetric, freshHeartbeat } from '../../activities/training/metrics';
import { checkpointToSync } from '../../activities/training/monitor';
import { parseProbe, type ProbeResult } from '../../activities/training/remote';
import { TrainingErrorType, type MetricsSummary, type TrainingPolicy } from '../../workflows/training-types';

const converged: MetricsSummary = { count: 5, firstLoss: 1, minLoss: 0.2, lastLoss: 0.2, invalid: 0 };

function judge(overrides: Partial<JudgeInput>): ReturnType<typeof judgeAttempt> {
  return judgeAttempt({
    outcome: { kind: 'exited', exitCode: 0 },
    metrics: converged,
    trainingMs: 1000,
    hasCheckpoint: false,
    attempt: 0,
    policy: {},
    ...overrides,
  });
}

describe('judging a training attempt by the step policy', () => {
  it('succeeds on exit 0, gated by convergence only when asked', () => {
    expect(judge({}).action).toBe('succeed');
    const flat = { ...converged, lastLoss: 1 };
    expect(judge({ metrics: flat }).action).toBe('succeed');
    expect(judge({ metrics: flat, policy: { requireConvergence: true } })).toEqual({
      action: 'give-up',
      reason: TrainingErrorType.CONVERGENCE_FAILED,
      message: 'loss did not decrease (1 → 1)',
    });
  });

  it('accepts the latest checkpoint after the minimum duration ("ran ≥ 5 h and a checkpoint exists")', () => {
    const crashed = { outcome: { kind: 'exited', exitCode: 1 } as const, hasCheckpoint: true };
    const policy: TrainingPolicy = { acceptCheckpointAfter: '5h', maxRetries: 2 };
    expect(judge({ ...crashed, policy, trainingMs: 5 * 3600_000 }).action).toBe('accept-checkpoint');
    expect(judge({ ...crashed, policy, trainingMs: 5 * 3600_000 - 1 }).action).toBe('retry');
    // No checkpoint, nothing to accept however long it ran.
    expect(judge({ ...crashed, hasCheckpoint: false, policy, trainingMs: 10 * 3600_000 }).action).toBe(
      'retry',
    );
  });

  it('retries up to maxRetries, on a fresh VM only when the old one is gone, then gives up with the type', () => {
    const policy = { maxRetries: 1 };
    expect(judge({ outcome: { kind: 'vanished' }, policy })).toMatchObject({
      action: 'retry',
      freshVm: false,
    });
    expect(judge({ outcome: { kind: 'vm-stopped', vmStatus: 'TERMINATED' }, policy })).toMatchObject({
      action: 'retry',
      freshVm: true,
      reason: TrainingErrorType.VM_STOPPED,
    });
    expect(judge({ outcome: { kind: 'unreachable', forMs: 900_000 }, policy, attempt: 1 })).toEqual({
      action: 'give-up',
      reason: TrainingErrorType.UNREACHABLE,
      message: 'SSH unreachable for 900 s',
    });
    expect(judge({ outcome: { kind: 'timed-out' }, policy: {} })).toMatchObject({
      action: 'give-up',
      reason: TrainingErrorType.TIMED_OUT,
    });
  });

  it('checks convergence: NaN or unreadable lines fail, too few values fail', () => {
    expect(checkConvergence(converged).ok).toBe(true);
    expect(checkConvergence({ ...converged, invalid: 1 }).ok).toBe(false);
    expect(checkConvergence({ count: 1, firstLoss: 1, lastLoss: 1, minLoss: 1, invalid: 0 }).ok).toBe(false);
  });
});

describe('reading metrics.jsonl and the poll output', () => {
  it('folds metric lines, counting Python NaN/Infinity and garbage as invalid', () => {
    const summary: MetricsSummary = { count: 0, invalid: 0 };
    foldMetric(summary, '{"step": 0, "loss": 2.0}');
    foldMetric(summary, '{"step": 1, "loss": NaN}');
    foldMetric(summary, '{"step": 2, "loss": 1.0, "val_loss": -Infinity}');
    foldMetric(summary, 'not json');
    expect(foldMetric(summary, '{"step": 3, "loss": 0.5}')).toEqual({ step: 3, loss: 0.5 });
    expect(summary).toEqual({ count: 4, invalid: 3, firstLoss: 2, minLoss: 0.5, lastLoss: 0.5 });
  });

  it('consumes complete metric lines only, until the run has ended', () => {
    const state = freshHeartbeat('r');
    const probe = (metrics: string, extra: Partial<ProbeResult> = {}): ProbeResult => ({
      runDirExists: true,
      tmuxAlive: true,
      pidAlive: true,
      now: 2000,
      startedAt: 1000,
      logSize: 0,
      metricsSize: state.metricsOffset + Buffer.byteLength(metrics),
      log: Buffer.alloc(0),
      metrics: Buffer.from(metrics),
      ...extra,
    });
    applyProbe(state, probe('{"step":0,"loss":1}\n{"step":1,"lo'));
    expect(state).toMatchObject({ metricsOffset: 20, lastMetric: { step: 0 }, elapsedMs: 1000 });
    applyProbe(state, probe('{"step":1,"loss":0.5}', { exitCode: 0, endedAt: 4000 }));
    expect(state).toMatchObject({ metricsOffset: 41, lastMetric: { step: 1 }, elapsedMs: 3000 });
    expect(state.metrics).toMatchObject({ count: 2, firstLoss: 1, lastLoss: 0.5 });
  });

  it('parses the one-exec status line and base64 payloads', () => {
    const name = Buffer.from('step-000004.json').toString('base64');
    const previous = Buffer.from('step-000002.json').toString('base64');
    const out = [
      `dir=1 exit=- tmux=1 pid=0 started=1000 ended=- killed=HUP now=1500 logsize=12 metricssize=0 ckpt=${name} ckptsize=40 ckptage=300 ckpt2=${previous}`,
      Buffer.from('hello\nworld\n').toString('base64'),
      '',
    ].join('\n');
    expect(parseProbe(out)).toEqual({
      runDirExists: true,
      exitCode: undefined,
      tmuxAlive: true,
      pidAlive: false,
      startedAt: 1000,
      endedAt: undefined,
      killedBy: 'HUP',
      now: 1500,
      logSize: 12,
      metricsSize: 0,
      checkpoint: { name: 'step-000004.json', size: 40, ageMs: 300 },
      previousCheckpoint: 'step-000002.json',
      log: Buffer.from('hello\nworld\n'),
      metrics: Buffer.alloc(0),
    });
  });

  it('copies the newest checkpoint once complete, else the one before it', () => {
    const state = freshHeartbeat('r');
    const probe = (
      checkpoint: ProbeResult['checkpoint'],
      previous?: string,
      exitCode?: number,
    ): ProbeResult => ({
      runDirExists: true,
      tmuxAlive: true,
      pidAlive: true,
      now: 0,
      logSize: 0,
      metricsSize: 0,
      log: Buffer.alloc(0),
      metrics: Buffer.alloc(0),
      checkpoint,
      previousCheckpoint: previous,
      exitCode,
    });
    const fresh = { name: 'c4', size: 10, ageMs: 100 };
    expect(checkpointToSync(state, undefined, probe(fresh))).toBeUndefined();
    expect(checkpointToSync(state, undefined, probe(fresh, 'c3'))).toEqual({ name: 'c3', size: 0 });
    expect(checkpointToSync(state, { name: 'c4', size: 10 }, probe(fresh, 'c3'))).toEqual(fresh);
    expect(checkpointToSync(state, undefined, probe({ ...fresh, ageMs: 5000 }, 'c3'))?.name).toBe('c4');
    expect(checkpointToSync(state, undefined, probe(fresh, 'c3', 0))?.name).toBe('c4');
    state.syncedCheckpoint = { name: 'c3', size: 1 };
    expect(checkpointToSync(state, undefined, probe(fresh, 'c3'))).toBeUndefined();
  });
});

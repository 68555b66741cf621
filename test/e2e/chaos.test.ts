import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from '../../scripts/chaos/run-chaos';
import { testTempDir } from '../harness/paths';

// The short form of `npm run chaos`, and the scale-out test: visits-scaling on two worker processes
// (the production entry point, trainings' monitors on their own queue) sharing the run; one is
// SIGKILLed inside a training's launch and not replaced, so the other finishes the run, while SSH
// connections are cut and the Temporal dev server restarts.
describe('chaos (short form): two workers, one killed inside a launch, SSH cuts, a Temporal restart', () => {
  it('completes on the surviving worker: each training launched once, every output there, one promotion', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      dir: testTempDir('chaos'),
      seed: 7,
      workers: 2,
      replaceKilled: false,
      workerKills: 1,
      sshCuts: 3,
      serverRestarts: 1,
      trainSeconds: 20,
      spreadSeconds: 30,
      timeoutMs: 180_000,
      print: (line) => lines.push(line),
    }).finally(() => console.log(lines.join('\n')));
    console.log(formatReport(report));
    const failed = report.checks.filter((check) => !check.ok);
    expect(failed).toEqual([]);
    expect(report.state).toBe('succeeded');
    expect(report.injected).toMatchObject({
      workerKills: 1,
      killsInsideLaunch: 1,
      sshCuts: 3,
      serverRestarts: 1,
    });
    // The guard was exercised: the launch was retried by the other worker, and started once.
    expect(report.launchRetries).toBeGreaterThanOrEqual(1);
    // Both workers ran the run's tasks before the kill; the survivor finished it.
    const [killed] = report.workers.killed;
    const survivor = report.workers.started.find((identity) => identity !== killed);
    expect(report.workers.ranTasks).toEqual(expect.arrayContaining([killed, survivor]));
    expect(report.ok).toBe(true);
    // A whole visits-scaling run (four trainings of 20 s, SQL on the emulator) under faults: ~3-4 min
    // on 2 busy cores, setup included; the run itself must end within 3 min.
  }, 420_000);
});

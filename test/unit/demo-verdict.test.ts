import { describe, expect, it } from 'vitest';
import { evaluationLines, gapfillLines } from '../../scripts/demo/progress';

describe('the demo summary of a visits-scaling run', () => {
  it('prints the out-of-sample verdict: both MSEs on the same held-out rows, the margin, the outcome, the tie rule', () => {
    const lines = evaluationLines({
      promote: false,
      reason: 'not promoted: trend challenger mse 2.000 > champion 1.000 + 2% on 28 held-out rows',
      tieRule: 'a tie promotes the challenger',
      models: {
        quality: { challenger: 0.5, champion: 0.5005, rows: 90, margin: 0.02, outcome: 'better' },
        trend: { challenger: 2, champion: 1, rows: 28, margin: 0.02, outcome: 'worse' },
        real_visits: { challenger: 3, champion: null, rows: 7, margin: 0.02, outcome: 'no-champion' },
      },
    });
    expect(lines).toEqual([
      '  evaluation (out of sample): NOT promoted (not promoted: trend challenger mse 2.000 > champion 1.000 + 2% on 28 held-out rows)',
      '    quality       on 90 held-out rows: challenger MSE 0.5000 vs production 0.5005, margin 2% → better',
      '    trend         on 28 held-out rows: challenger MSE 2.000 vs production 1.000, margin 2% → worse',
      '    real_visits   on 7 held-out rows: challenger MSE 3.000 vs production n/a, margin 2% → no-champion',
      '    tie rule: a tie promotes the challenger',
    ]);
    expect(evaluationLines(undefined)).toEqual([]);
  });

  it('prints the gap fill at promotion: its days, rows and model version, or why there was none', () => {
    expect(
      gapfillLines({
        filled: true,
        from: '2026-07-02',
        to: '2026-07-20',
        rows: 532,
        skipped: 3,
        modelVersion: '2026-07-01-1a2b3c4d',
      }),
    ).toEqual([
      "  gap fill of poi_visits_scaled at promotion: 2026-07-02 → 2026-07-20 (the source's last day), 532 POI-days by 2026-07-01-1a2b3c4d, 3 without features skipped",
    ]);
    expect(
      gapfillLines({ filled: false, reason: 'nothing was promoted, production keeps its gap fill' }),
    ).toEqual(['  gap fill: none (nothing was promoted, production keeps its gap fill)']);
    expect(gapfillLines(undefined)).toEqual([]);
  });
});

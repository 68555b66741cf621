import { describe, expect, it } from 'vitest';
import { mapLine, ProgressPrinter, type RunView } from '../../scripts/demo/progress';
import type { MapProgress } from '../../workflows/definitions';

const progress = (fields: Partial<MapProgress>): MapProgress => ({
  total: 10,
  pending: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  cached: 0,
  markedSucceeded: 0,
  batches: { size: 5, total: 2, finished: 0 },
  minSuccessRatio: 1,
  failedItems: [],
  ...fields,
});

describe('demo map progress', () => {
  it('says how many items are done, cached, failed (with reasons) and running, and the batches', () => {
    expect(
      mapLine(
        progress({
          succeeded: 5,
          cached: 2,
          failed: 1,
          running: 2,
          batches: { size: 5, total: 2, finished: 1 },
          failedItems: [{ index: 3, item: '"b"', error: 'no data', attempts: 1 }],
        }),
      ),
    ).toBe('7/10 items done (2 cached), 1 failed, 2 running, batch 1/2; failed: #3 "b": no data');
  });

  it('prints a map line only when it changes', () => {
    const lines: string[] = [];
    const printer = new ProgressPrinter((line) => lines.push(line));
    const view = (map: MapProgress): RunView =>
      ({
        status: 'running',
        webUiUrl: '',
        progress: [],
        run: { steps: [{ id: 'each', state: 'running', map }] },
      }) as unknown as RunView;
    printer.update(view(progress({ running: 10 })));
    printer.update(view(progress({ running: 10 })));
    printer.update(view(progress({ succeeded: 10, batches: { size: 5, total: 2, finished: 2 } })));
    expect(lines.filter((line) => line.includes('map each'))).toEqual([
      '      map each: 0/10 items done, 10 running, batch 0/2',
      '      map each: 10/10 items done, batch 2/2',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { resolveMaxParallel } from '../../activities/plan';
import { definePipeline, validatePipeline } from '../../pipelines';
import { MAX_STATIC_STEPS } from '../../pipelines/core/limits';
import { currentStepValue, DEFAULT_MAX_PARALLEL } from '../../workflows/definitions';

describe('CurrentStep value', () => {
  it('names up to five running steps, counts the rest', () => {
    expect(currentStepValue([])).toBe('');
    expect(currentStepValue(['a', 'b'])).toBe('a,b');
    const ids = Array.from({ length: 3000 }, (_, i) => `fan.out.step_${i}`);
    expect(currentStepValue(ids)).toBe(
      'fan.out.step_0,fan.out.step_1,fan.out.step_2,fan.out.step_3,fan.out.step_4,+2995 more',
    );
  });

  it('stays within 400 characters (far under the 2 KB limit) whatever the ids', () => {
    const long = Array.from({ length: 7 }, (_, i) => `${'x'.repeat(300)}.${i}`);
    const value = currentStepValue(long);
    expect(value.length).toBeLessThanOrEqual(400);
    expect(value.endsWith('…,+2 more')).toBe(true);
    expect(Buffer.byteLength(currentStepValue(['é'.repeat(2000)]))).toBeLessThan(2048);
  });
});

describe('maxParallel', () => {
  it('defaults to 200 and takes integers from 1 to 1000', () => {
    expect(resolveMaxParallel(undefined)).toBe(DEFAULT_MAX_PARALLEL);
    expect(DEFAULT_MAX_PARALLEL).toBe(200);
    expect(resolveMaxParallel(1)).toBe(1);
    expect(resolveMaxParallel(1000)).toBe(1000);
  });

  it.each([0, -1, 1001, 2.5, Number.NaN, '10', '--max', true])('refuses %s', (value) => {
    expect(() => resolveMaxParallel(value)).toThrow(/maxParallel .* must be an integer from 1 to 1000/);
  });
});

describe('static width', () => {
  it(`refuses more than ${MAX_STATIC_STEPS} static steps with a message that points to map steps`, () => {
    const builder = definePipeline('too-wide');
    for (let i = 0; i <= MAX_STATIC_STEPS; i++) builder.step(`s${i}`, { kind: 'echo' });
    const issues = validatePipeline(builder.draft());
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'too-many-steps' });
    expect(issues[0]?.message).toContain(`has ${MAX_STATIC_STEPS + 1} steps; at most ${MAX_STATIC_STEPS}`);
    expect(issues[0]?.message).toContain('map step');
  });

  it(`accepts exactly ${MAX_STATIC_STEPS}`, () => {
    const builder = definePipeline('wide-enough');
    for (let i = 0; i < MAX_STATIC_STEPS; i++) builder.step(`s${i}`, { kind: 'echo' });
    expect(validatePipeline(builder.draft())).toEqual([]);
  });
});

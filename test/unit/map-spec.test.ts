import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { resolvePlan } from '../../activities/plan';
import { createPipelineRegistry, definePipeline, param, validatePipeline } from '../../pipelines';
import {
  batchRanges,
  batchSizeFor,
  childRanges,
  fillItemTemplates,
  itemCacheKey,
  itemOutputs,
  parseListParameter,
} from '../../pipelines/core/map';
import type { PipelineDefinition } from '../../pipelines/core/types';
import { RunnerErrorType } from '../../workflows/definitions';
import { gateKind } from '../../activities/kinds/basic';
import { looseKind } from '../harness/kinds';

const messages = (definition: PipelineDefinition) => validatePipeline(definition).map((i) => i.message);

const plan = async (definition: PipelineDefinition, params: Record<string, string> = {}) =>
  await resolvePlan(
    { pipelines: createPipelineRegistry([definition]), kinds: [looseKind('script'), gateKind] },
    { pipeline: definition.name, params, workflowId: 'dry', startTime: '2026-10-01T00:00:00Z' },
  );

describe('map step spec', () => {
  it('plans a literal list with parameters filled, a parameter list, and an upstream source', async () => {
    const definition = definePipeline('maps', {
      parameters: { cutoffs: param.string({ default: 'a, b,,c' }) },
    })
      .step('list', { kind: 'script', outputs: ['table'] })
      .step('lit', {
        kind: 'script',
        spec: { at: '{{item.cutoff}}' },
        map: { forEach: [{ cutoff: '{{cutoff}}' }, { cutoff: '2026-01-01' }] },
      })
      .step('par', {
        kind: 'script',
        spec: { c: '{{item}}' },
        map: { forEach: '{{cutoffs}}', batchSize: '20%' },
      })
      .step('up', {
        kind: 'script',
        after: ['list'],
        spec: { sensor: '{{item}}', table: '{{steps.list.table}}' },
        map: { forEach: { step: 'list', field: 'sensors' }, maxConcurrency: 7, minSuccessRatio: 0.5 },
      })
      .step('clusters', { kind: 'script', after: ['up'], eachBatch: true })
      .build();
    const planned = await plan(definition);
    const byId = Object.fromEntries(planned.steps.map((s) => [s.id, s]));
    expect(byId.lit?.map).toEqual({
      source: { items: [{ cutoff: '2026-10-01' }, { cutoff: '2026-01-01' }] },
      maxConcurrency: 50,
      minSuccessRatio: 1,
      batchSize: 500,
    });
    expect(byId.lit?.spec).toEqual({ at: '{{item.cutoff}}' });
    expect(byId.par?.map?.source).toEqual({ items: ['a', 'b', 'c'] });
    expect(byId.up?.map).toMatchObject({ source: { step: 'list', field: 'sensors' }, maxConcurrency: 7 });
    expect(byId.up?.spec.table).toMatch(/^smc_maps\.list_[0-9a-f]{8}$/);
    expect(byId.clusters?.eachBatch).toBe(true);
    const json = await plan(definition, { cutoffs: '[{"cutoff":"x"}, 3]' });
    expect(json.steps.find((s) => s.id === 'par')?.map?.source).toEqual({ items: [{ cutoff: 'x' }, 3] });
  });

  it('refuses a parameter list that is neither JSON nor a list, with a typed failure', async () => {
    const definition = definePipeline('badlist', { parameters: { cutoffs: param.string() } })
      .step('par', { kind: 'script', map: { forEach: '{{cutoffs}}' } })
      .build();
    const error = await plan(definition, { cutoffs: '[not json' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe(RunnerErrorType.InvalidParameters);
    expect((error as ApplicationFailure).message).toContain('cutoffs starts with [ but is not a JSON array');
  });

  it('names every bad map setting', () => {
    const draft = definePipeline('bad-maps', {
      parameters: { n: param.number({ default: 1 }), item: param.string({ default: 'x' }) },
    })
      .step('a', { kind: 'script' })
      .step('g', { kind: 'gate', map: { forEach: [1] } })
      .step('b', {
        kind: 'script',
        map: {
          forEach: { step: 'a', field: 'ids' },
          maxConcurrency: 0,
          minSuccessRatio: 1.5,
          batchSize: '0%',
        },
      })
      .step('c', { kind: 'script', map: { forEach: '{{n}}', batchSize: 2.5 } })
      .step('d', { kind: 'script', map: { forEach: '--forEach=/etc/passwd' } })
      .step('e', { kind: 'script', spec: { x: '{{item.id}}' } })
      .step('f', { kind: 'script', after: ['a'], eachBatch: true })
      .draft();
    const found = messages(draft);
    expect(found).toEqual(
      expect.arrayContaining([
        'parameter item shadows a built-in',
        'step g: a gate runs nothing; it cannot be a map step',
        'step b: map.forEach reads step a, which is not in its after',
        'step b: map.maxConcurrency 0 must be an integer from 1 to 1000',
        'step b: map.minSuccessRatio 1.5 must be a number from 0 to 1',
        'step b: map.batchSize "0%" must be a positive integer or a share like "20%"',
        'step c: map.batchSize 2.5 must be a positive integer or a share like "20%"',
        'step c: map.forEach parameter n must be a declared string parameter',
        'step d: map.forEach "--forEach=/etc/passwd" must be a JSON array, "{{param}}" or { step, field }',
        'step e references {{item.id}} but is not a map step',
        'step f: eachBatch needs exactly one map step in after (found none)',
      ]),
    );
    expect(found).toHaveLength(11);
  });

  it('refuses more than 10,000 literal items', () => {
    const draft = definePipeline('huge')
      .step('m', { kind: 'script', map: { forEach: Array(10_001).fill(1) } })
      .draft();
    expect(messages(draft)).toEqual(['step m: map.forEach has 10001 items; at most 10000']);
  });
});

describe('map helpers', () => {
  it('fills {{item}} and nested fields, keeping types and other templates', () => {
    const item = { id: 's-1', geo: { metro: 'Lyon "centre"' }, n: 3 };
    expect(
      fillItemTemplates({ a: '{{item}}', b: 'x-{{item.geo.metro}}', c: '{{item.n}}', d: '{{other}}' }, item),
    ).toEqual({
      a: item,
      b: 'x-Lyon "centre"',
      c: 3,
      d: '{{other}}',
    });
    expect(() => fillItemTemplates({ a: '{{item.missing}}' }, item)).toThrow('has no field missing');
    expect(() => fillItemTemplates({ a: '{{item.constructor}}' }, item)).toThrow('has no field constructor');
    expect(fillItemTemplates({ a: '{{item}}' }, '--rm -rf /')).toEqual({ a: '--rm -rf /' });
  });

  it('parses list parameters: JSON arrays and comma lists', () => {
    expect(parseListParameter('p', ' [1, {"a": 2}] ')).toEqual([1, { a: 2 }]);
    expect(parseListParameter('p', 'a, "b" ,,')).toEqual(['a', '"b"']);
    expect(parseListParameter('p', '')).toEqual([]);
    expect(() => parseListParameter('p', '{"a":1}')).not.toThrow();
    expect(() => parseListParameter('p', 3)).toThrow('must be a string list');
  });

  it('keys items by content (key order does not matter), and names their outputs', () => {
    const key = itemCacheKey('abc', { a: 1, b: [2, 3] });
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(itemCacheKey('abc', { b: [2, 3], a: 1 })).toBe(key);
    expect(itemCacheKey('abd', { a: 1, b: [2, 3] })).not.toBe(key);
    expect(itemCacheKey('abc', '1')).not.toBe(itemCacheKey('abc', 1));
    const keys = new Set(
      Array.from({ length: 20_000 }, (_, i) => itemCacheKey('k', `sensor-${i}`).slice(0, 8)),
    );
    expect(keys.size).toBeGreaterThan(19_990);
    expect(itemOutputs({ table: 'smc_p.t_12345678' }, key)).toEqual({
      table: `smc_p.t_12345678_i${key.slice(0, 8)}`,
    });
  });

  it('splits items into batches and batches into children of at most 500', () => {
    expect(batchSizeFor('20%', 11)).toBe(3);
    expect(batchSizeFor('100%', 0)).toBe(1);
    expect(batchSizeFor(7, 3)).toBe(7);
    expect(batchRanges(7, 3)).toEqual([
      [0, 3],
      [3, 6],
      [6, 7],
    ]);
    expect(childRanges(1000, 2200)).toEqual([
      [1000, 1500],
      [1500, 2000],
      [2000, 2200],
    ]);
  });
});

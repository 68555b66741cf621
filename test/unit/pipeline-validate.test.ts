import { describe, expect, it } from 'vitest';
import {
  definePipeline,
  param,
  ParameterError,
  PipelineValidationError,
  pipelines,
  resolveParameters,
  validatePipeline,
} from '../../pipelines';

const codes = (issues: { code: string; step?: string; parameter?: string }[]) =>
  issues.map(({ code, step, parameter }) => ({
    code,
    ...(step ? { step } : {}),
    ...(parameter ? { parameter } : {}),
  }));

describe('pipeline definitions', () => {
  it('builds a valid definition with defaults filled in', () => {
    const definition = definePipeline('small', { parameters: { region: param.string({ default: 'eu' }) } })
      .step('prepare', { kind: 'sql', spec: { query: 'SELECT "{{region}}"' }, outputs: ['table'] })
      .step('model.train', { kind: 'train', after: ['prepare'], onFailure: 'wait', timeout: '8 hours' })
      .build();
    expect(definition.steps[1]).toEqual({
      id: 'model.train',
      after: ['prepare'],
      kind: 'train',
      spec: {},
      version: '1',
      cache: false,
      approval: false,
      onFailure: 'wait',
      outputs: [],
      cleanup: false,
      timeout: '8 hours',
    });
  });

  it('names the duplicate step and the unknown dependency', () => {
    const draft = definePipeline('dupes')
      .step('a', { kind: 'sql' })
      .step('a', { kind: 'sql' })
      .step('b', { kind: 'sql', after: ['a', 'missing'] })
      .draft();
    expect(codes(validatePipeline(draft))).toEqual([
      { code: 'duplicate-step', step: 'a' },
      { code: 'unknown-dependency', step: 'b' },
    ]);
    expect(validatePipeline(draft).map((issue) => issue.message)).toEqual([
      'step a is defined twice',
      'step b runs after unknown step missing',
    ]);
  });

  it('names the steps of a cycle in execution order', () => {
    const build = () =>
      definePipeline('loop')
        .step('start', { kind: 'sql' })
        .step('a', { kind: 'sql', after: ['start', 'c'] })
        .step('b', { kind: 'sql', after: ['a'] })
        .step('c', { kind: 'sql', after: ['b'] })
        .build();
    expect(build).toThrow(PipelineValidationError);
    expect(build).toThrow('pipeline loop is invalid: steps form a cycle: a → b → c → a');
    const self = definePipeline('self')
      .step('a', { kind: 'sql', after: ['a'] })
      .draft();
    expect(validatePipeline(self).map((issue) => issue.message)).toContain('step a runs after itself');
  });

  it('names a step that uses an unknown parameter or an output it cannot see', () => {
    const draft = definePipeline('refs', { parameters: { region: param.string({ default: 'eu' }) } })
      .step('a', { kind: 'sql', spec: { query: 'SELECT "{{regoin}}", "{{cutoff}}"' }, outputs: ['table'] })
      .step('b', { kind: 'sql', spec: { input: '{{steps.a.model}}', other: '{{steps.c.table}}' } })
      .step('c', { kind: 'sql', after: ['a'], spec: { input: '{{steps.a.table}}' }, outputs: ['table'] })
      .draft();
    const issues = validatePipeline(draft);
    expect(codes(issues)).toEqual([
      { code: 'unknown-parameter', step: 'a', parameter: 'regoin' },
      { code: 'invalid-step-reference', step: 'b' },
      { code: 'invalid-step-reference', step: 'b' },
    ]);
    expect(issues[1]?.message).toBe(
      'step b references {{steps.a.model}}: step a, which is not upstream of it',
    );
    expect(issues[2]?.message).toBe(
      'step b references {{steps.c.table}}: step c, which is not upstream of it',
    );
  });

  it('names bad parameter declarations and bad ids', () => {
    const draft = definePipeline('Bad_Name', {
      parameters: {
        cutoff: param.date(),
        vm: param.string({
          default: 'gpu',
          choices: ['cpu-python-template-prod', 'tensorflow-template-prod'],
        }),
        epochs: { type: 'number', default: 'ten' },
      },
    })
      .step('Train-Model', { kind: 'train' })
      .draft();
    expect(codes(validatePipeline(draft))).toEqual([
      { code: 'invalid-name' },
      { code: 'invalid-parameter', parameter: 'cutoff' },
      { code: 'invalid-parameter', parameter: 'vm' },
      { code: 'invalid-parameter', parameter: 'epochs' },
      { code: 'invalid-step', step: 'Train-Model' },
    ]);
  });

  it('names a range on a non-number, an empty range and a default outside it', () => {
    const draft = definePipeline('ranges', {
      parameters: {
        name: param.string({ default: 'a', min: 1 }),
        share: param.number({ default: 5, min: 10, max: 1 }),
        percent: param.number({ default: 95, min: 1, max: 90 }),
        fine: param.number({ default: 20, min: 1, max: 90 }),
      },
    })
      .step('a', { kind: 'gate' })
      .draft();
    expect(codes(validatePipeline(draft))).toEqual([
      { code: 'invalid-parameter', parameter: 'name' },
      { code: 'invalid-parameter', parameter: 'share' },
      { code: 'invalid-parameter', parameter: 'percent' },
    ]);
  });

  it('keeps every shipped pipeline valid', () => {
    for (const definition of pipelines.values()) expect(validatePipeline(definition)).toEqual([]);
  });
});

describe('run parameters', () => {
  const definition = definePipeline('params', {
    parameters: {
      region: param.string({ default: 'eu', choices: ['eu', 'us'] }),
      epochs: param.number({ default: 3 }),
      approve: param.boolean({ default: false }),
      since: param.date(),
    },
  }).build();

  it('fills defaults and coerces strings from a CLI or a query string', () => {
    expect(resolveParameters(definition, { since: '2026-01-01', epochs: '10', approve: 'true' })).toEqual({
      region: 'eu',
      epochs: 10,
      approve: true,
      since: '2026-01-01',
    });
  });

  it('names every unknown, missing or invalid parameter', () => {
    const error = (() => {
      try {
        resolveParameters(definition, { regoin: 'us', region: 'asia', epochs: 'many' });
      } catch (e) {
        return e;
      }
    })() as ParameterError;
    expect(error).toBeInstanceOf(ParameterError);
    expect(error.problems.map((problem) => problem.parameter)).toEqual([
      'regoin',
      'region',
      'epochs',
      'since',
    ]);
    expect(error.message).toContain('unknown parameter regoin');
    expect(error.message).toContain('missing parameter since (no default)');
    expect(error.message).toContain('parameter region: expected one of "eu", "us"');
  });

  it('checks a number parameter against its range, inclusive, naming it and the range', () => {
    const ranged = definePipeline('ranged', {
      parameters: { percent: param.number({ default: 20, min: 1, max: 90 }) },
    }).build();
    expect(resolveParameters(ranged, { percent: '1' })).toEqual({ percent: 1 });
    expect(resolveParameters(ranged, { percent: 90 })).toEqual({ percent: 90 });
    for (const bad of [0, 90.5, -1, 1e308, '--90', '', 'NaN', 'Infinity']) {
      let error: unknown;
      try {
        resolveParameters(ranged, { percent: bad });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(bad)).toBeInstanceOf(ParameterError);
      expect((error as ParameterError).problems.map((problem) => problem.parameter)).toEqual(['percent']);
      expect((error as ParameterError).message).toContain('parameter percent');
    }
    let error: unknown;
    try {
      resolveParameters(ranged, { percent: 0 });
    } catch (e) {
      error = e;
    }
    expect((error as ParameterError).message).toContain('between 1 and 90');
  });
});

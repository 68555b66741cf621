import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { echoKind } from '../../activities/kinds/basic';
import { createStepActivities, type StepExecution } from '../../activities/steps';
import { RunnerErrorType } from '../../workflows/definitions';
import { bound, looseKind } from '../harness/kinds';

const execution = (kind: string, outputs: Record<string, string> = {}): StepExecution => ({
  workflowId: 'demo/test',
  pipeline: 'demo',
  step: { id: 'prepare', kind, spec: { message: 'hello' }, version: '1', cacheKey: 'abc' },
  outputs,
  inputs: {},
  attempt: 1,
});

describe('step executor registry', () => {
  it('runs the handler of the step kind and defaults the outputs to the planned names', async () => {
    const { executeStep } = createStepActivities(bound(echoKind));
    const result = await new MockActivityEnvironment().run(
      executeStep,
      execution('echo', { table: 'smc_demo.prepare_abc' }),
    );
    expect(result).toEqual({ outputs: { table: 'smc_demo.prepare_abc' }, info: { message: 'hello' } });
  });

  it('fails non-retryably on a kind nobody registered, naming the kind', async () => {
    const { executeStep } = createStepActivities(bound(echoKind));
    const error = await new MockActivityEnvironment()
      .run(executeStep, execution('sql'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: RunnerErrorType.UnknownStepKind, nonRetryable: true });
    expect((error as Error).message).toBe('no handler for step kind sql (known: echo)');
  });

  it('heartbeats while the handler runs and hands it the cancellation', async () => {
    let aborted = false;
    const { executeStep } = createStepActivities(
      bound(
        looseKind('slow', {
          run: (_execution, context) =>
            new Promise((_resolve, reject) => {
              context.signal.addEventListener('abort', () => {
                aborted = true;
                reject(new Error('stopped'));
              });
              context.heartbeat({ phase: 'running' });
            }),
        }),
      ),
    );
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => {
      heartbeats.push(details);
      // Cancel once the handler itself beats, as the server would answer a heartbeat.
      if (details !== undefined) env.cancel();
    });
    const error = await env.run(executeStep, execution('slow')).catch((e: unknown) => e);
    expect(heartbeats).toEqual([undefined, { phase: 'running' }]);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(aborted).toBe(true);
  });

  it('says whether outputs exist only when the kind can tell', async () => {
    const { outputsExist } = createStepActivities(
      bound(
        echoKind,
        looseKind('table', {
          run: async () => undefined,
          outputsExist: async ({ outputs }) => outputs.table === 'there',
        }),
      ),
    );
    const env = new MockActivityEnvironment();
    expect(await env.run(outputsExist, execution('table', { table: 'there' }))).toBe(true);
    expect(await env.run(outputsExist, execution('table', { table: 'gone' }))).toBe(false);
    expect(await env.run(outputsExist, execution('echo', { table: 'there' }))).toBeNull();
    expect(await env.run(outputsExist, execution('table'))).toBeNull();
  });
});

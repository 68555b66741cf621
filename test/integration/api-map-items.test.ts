import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createPlanActivities } from '../../activities/plan';
import { createStepActivities } from '../../activities/steps';
import { createPipelineRegistry, definePipeline } from '../../pipelines';
import type { JsonValue } from '../../pipelines/core/types';
import { workflowsPath } from '../../workers/worker';
import type { RunStatus, StepStatus } from '../../workflows/definitions';
import { useApiSuite } from '../harness/api-stack';
import { bound, looseKind } from '../harness/kinds';

const admin = { Authorization: 'Bearer admin-secret' };
const operator = { Authorization: 'Bearer operator-secret' };
const viewer = { Authorization: 'Bearer viewer-secret' };

/** Item keys as they come from upstream data: paths, options, quotes, escapes, unicode, JSON. */
const ITEMS: JsonValue[] = [
  'ok',
  'a/b?c#d',
  '--force',
  '../../etc/passwd',
  `quo'te"%2F;rm -rf`,
  'dup',
  'dup',
  { id: 'x y' },
  'ünï €',
];

const pipeline = definePipeline('item-actions')
  .step('sensors', {
    kind: 'flaky',
    onFailure: 'wait',
    retry: { maximumAttempts: 1 },
    map: { forEach: ITEMS, maxConcurrency: 3 },
  })
  .step('after', { kind: 'flaky', after: ['sensors'] })
  .build();

/** Every item but `ok` fails its first attempt; a retried item succeeds. */
const flaky = looseKind('flaky', {
  run: async (execution) => {
    if (execution.item && execution.item.value !== 'ok' && execution.attempt === 1)
      throw new Error(`sensor ${JSON.stringify(execution.item.value)} offline`);
    return {};
  },
});

describe('API: actions on one item of a map step (Updates, dev server)', () => {
  const suite = useApiSuite({
    tokens: 'ops:admin:admin-secret,night-shift:operator:operator-secret,watcher:viewer:viewer-secret',
    pipelines: [pipeline],
    worker: (env) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: `items-${randomUUID()}`,
        workflowsPath: workflowsPath(),
        activities: {
          ...createPlanActivities({ pipelines: createPipelineRegistry([pipeline]), kinds: [flaky] }),
          ...createStepActivities(bound(flaky)),
          notify: async () => ({ channels: [] }),
        },
      }),
  });

  const runPath = (workflowId: string) => `/runs/${encodeURIComponent(workflowId)}`;
  const itemPath = (workflowId: string, item: string, action: 'retry' | 'mark-succeeded', step = 'sensors') =>
    `${runPath(workflowId)}/steps/${encodeURIComponent(step)}/items/${encodeURIComponent(item)}/${action}`;
  const sensors = (run: RunStatus): StepStatus | undefined => run.steps.find((s) => s.id === 'sensors');
  /** Polls GET /runs/:id until the predicate holds (the run moves on in the worker). */
  async function until(workflowId: string, ok: (run: RunStatus, status: string) => boolean) {
    for (let i = 0; i < 600; i++) {
      const { body } = await request(suite.http).get(runPath(workflowId)).set(viewer).expect(200);
      if (ok(body.run as RunStatus, body.status as string)) return body.run as RunStatus;
    }
    throw new Error(`run ${workflowId} never reached the expected state`);
  }
  const failedValues = (run: RunStatus) => sensors(run)?.map?.failedItems.map((item) => item.item);

  it('retries and marks items named by value (URL-encoded hostile keys), index or JSON; rejects misfits', async () => {
    const started = await request(suite.http)
      .post('/runs')
      .set(admin)
      .send({ pipeline: 'item-actions', runKey: `items-${randomUUID().slice(0, 8)}` })
      .expect(201);
    const id = started.body.workflowId as string;
    const waiting = await until(id, (run) => sensors(run)?.state === 'awaiting-decision');
    expect(sensors(waiting)?.map).toMatchObject({ total: 9, succeeded: 1, failed: 8 });

    // By value: a path with ? and #, an option-like key, a traversal, quotes and an escape, unicode.
    const retried = await request(suite.http)
      .post(itemPath(id, 'a/b?c#d', 'retry'))
      .set(operator)
      .expect(200);
    expect(retried.body.operatorActions.at(-1)).toMatchObject({
      signal: 'retryItem',
      accepted: true,
      actor: 'night-shift',
      payload: { step: 'sensors', item: 'a/b?c#d' },
    });
    await request(suite.http)
      .post(itemPath(id, '--force', 'retry'))
      .set(operator)
      .expect(200);
    await request(suite.http)
      .post(itemPath(id, '../../etc/passwd', 'mark-succeeded'))
      .set(operator)
      .send({ reason: 'sensor retired' })
      .expect(200);
    await request(suite.http)
      .post(itemPath(id, `quo'te"%2F;rm -rf`, 'retry'))
      .set(operator)
      .expect(200);
    await request(suite.http)
      .post(itemPath(id, 'ünï €', 'retry'))
      .set(admin)
      .expect(200);
    // By the item's JSON, and by index (the duplicates can only be named so).
    await request(suite.http)
      .post(itemPath(id, '{"id":"x y"}', 'retry'))
      .set(operator)
      .expect(200);
    const ambiguous = await request(suite.http)
      .post(itemPath(id, 'dup', 'retry'))
      .set(operator)
      .expect(400);
    expect(ambiguous.body.message).toBe('items 5, 6 of sensors are all "dup"; name one by its index');
    await request(suite.http)
      .post(itemPath(id, '5', 'retry'))
      .set(operator)
      .expect(200);

    const settled = await until(
      id,
      (run) => failedValues(run)?.length === 1 && sensors(run)?.state === 'awaiting-decision',
    );
    expect(failedValues(settled)).toEqual(['"dup"']);
    expect(sensors(settled)?.map).toMatchObject({ succeeded: 7, markedSucceeded: 1, failed: 1 });

    // Misfits, each answered at once with the workflow's reason.
    const succeeded = await request(suite.http)
      .post(itemPath(id, 'ok', 'retry'))
      .set(operator)
      .expect(409);
    expect(succeeded.body.message).toBe('item 0 of sensors is succeeded; only a failed item fits');
    const unknown = await request(suite.http)
      .post(itemPath(id, 'nope', 'retry'))
      .set(operator)
      .expect(404);
    expect(unknown.body.message).toBe(
      'item "nope" is not an item of sensors (an index 0–8, or an item\'s value)',
    );
    await request(suite.http)
      .post(itemPath(id, '9', 'retry'))
      .set(operator)
      .expect(404);
    const huge = await request(suite.http)
      .post(itemPath(id, 'x'.repeat(5000), 'retry'))
      .set(operator)
      .expect(404);
    expect(huge.body.message.length).toBeLessThan(200);
    const notMap = await request(suite.http)
      .post(itemPath(id, '0', 'retry', 'after'))
      .set(operator)
      .expect(404);
    expect(notMap.body.message).toBe('step after is not a map step');
    await request(suite.http)
      .post(itemPath(id, '0', 'retry', 'nope'))
      .set(operator)
      .expect(404);
    await request(suite.http)
      .post(itemPath(`item-actions/none`, '0', 'retry'))
      .set(operator)
      .expect(404);
    // Bodies: mark-succeeded needs a reason (a string, at most 1,000 characters).
    await request(suite.http)
      .post(itemPath(id, '6', 'mark-succeeded'))
      .set(operator)
      .send({})
      .expect(400);
    await request(suite.http)
      .post(itemPath(id, '6', 'mark-succeeded'))
      .set(operator)
      .send({ reason: ['--force'] })
      .expect(400);
    await request(suite.http)
      .post(itemPath(id, '6', 'mark-succeeded'))
      .set(operator)
      .send({ reason: 'r'.repeat(1001) })
      .expect(400);
    // Roles: a viewer may look, not act; no token, no answer.
    await request(suite.http)
      .post(itemPath(id, '6', 'retry'))
      .set(viewer)
      .expect(403);
    await request(suite.http)
      .post(itemPath(id, '6', 'retry'))
      .expect(401);

    const marked = await request(suite.http)
      .post(itemPath(id, '6', 'mark-succeeded'))
      .set(operator)
      .send({ reason: 'duplicate row upstream' })
      .expect(200);
    expect(marked.body.operatorActions.at(-1)).toMatchObject({
      signal: 'markItemSucceeded',
      actor: 'night-shift',
      payload: { item: '6', reason: 'duplicate row upstream' },
    });

    const done = await until(id, (_run, status) => status === 'COMPLETED');
    expect(done.state).toBe('succeeded');
    expect(sensors(done)?.map).toMatchObject({ succeeded: 7, markedSucceeded: 2, failed: 0 });
    expect(done.rejectedSignals).toEqual([]); // rejected Updates leave nothing in the run
    expect(done.operatorActions.map((action) => [action.signal, action.actor])).toEqual([
      ['retryItem', 'night-shift'],
      ['retryItem', 'night-shift'],
      ['markItemSucceeded', 'night-shift'],
      ['retryItem', 'night-shift'],
      ['retryItem', 'ops'],
      ['retryItem', 'night-shift'],
      ['retryItem', 'night-shift'],
      ['markItemSucceeded', 'night-shift'],
    ]);
    // A finished run takes no item action.
    const ended = await request(suite.http)
      .post(itemPath(id, '0', 'retry'))
      .set(operator)
      .expect(409);
    expect(ended.body.message).toMatch(/has ended \(succeeded\)/);
  });
});

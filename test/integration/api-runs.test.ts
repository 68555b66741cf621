import { defaultPayloadConverter } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunStatus, StepState } from '../../workflows/definitions';
import { useApiSuite } from '../harness/api-stack';
import { createOperatorWorker, operatorPipeline } from './runner-fixtures';
import { startWebhookReceiver, type WebhookReceiver } from './runner-receivers';

const TOKEN = 'runs-token';
const auth = { Authorization: `Bearer ${TOKEN}` };
const operator = { Authorization: 'Bearer operator-secret' };

describe('API: runs and operator actions against the dev server and a real worker', () => {
  let webhook: WebhookReceiver;
  beforeAll(async () => {
    webhook = await startWebhookReceiver();
  });
  afterAll(async () => {
    await webhook?.close();
  });
  const suite = useApiSuite({
    tokens: `runner:admin:${TOKEN},night-shift:operator:operator-secret`,
    pipelines: [operatorPipeline],
    worker: (env) => createOperatorWorker(env, webhook.url),
  });

  const path = (workflowId: string) => `/runs/${encodeURIComponent(workflowId)}`;
  /** POST /runs as an authorised caller. */
  const postRun = (body: object) => request(suite.http).post('/runs').set(auth).send(body);
  const show = async (workflowId: string) =>
    (await request(suite.http).get(path(workflowId)).set(auth).expect(200)).body as {
      status: string;
      run: RunStatus;
    };
  /** Polls GET /runs/:id until the predicate holds (the run moves on in the worker). */
  async function until(workflowId: string, ok: (run: { status: string; run: RunStatus }) => boolean) {
    for (let i = 0; i < 300; i++) {
      const run = await show(workflowId);
      if (ok(run)) return run;
    }
    throw new Error(`run ${workflowId} never reached the expected state`);
  }
  const stepState = (run: RunStatus, id: string): StepState | undefined =>
    run.steps.find((step) => step.id === id)?.state;

  it('validates run requests, naming the bad field', async () => {
    const missing = await postRun({}).expect(400);
    expect(JSON.stringify(missing.body.message)).toMatch(/pipeline/);
    const unknown = await postRun({ pipeline: 'nope' }).expect(400);
    expect(unknown.body.message).toMatch(/^pipeline: unknown pipeline nope/);
    const params = await postRun({ pipeline: 'operator-demo', params: { colour: 'red' } }).expect(400);
    expect(params.body.message).toMatch(/^params: .*unknown parameter colour/);
    const cutoff = await postRun({ pipeline: 'operator-demo', cutoff: '30/09/2026' }).expect(400);
    expect(JSON.stringify(cutoff.body.message)).toMatch(/cutoff must be a date YYYY-MM-DD/);
    const from = await postRun({ pipeline: 'operator-demo', from: 'evaluate' }).expect(400);
    expect(from.body.message).toBe('reuseRunId: required with from');
    const step = await postRun({ pipeline: 'operator-demo', from: 'nope', reuseRunId: 'x' }).expect(400);
    expect(step.body.message).toBe('from: pipeline operator-demo has no step nope');
    const reuse = await postRun({
      pipeline: 'operator-demo',
      from: 'evaluate',
      reuseRunId: 'operator-demo/none',
    }).expect(404);
    expect(reuse.body.message).toBe('reuseRunId: no run operator-demo/none');
    await request(suite.http).get(path('operator-demo/none')).set(auth).expect(404);
    await request(suite.http).get('/runs?state=sleeping').set(auth).expect(400);
    await request(suite.http).post('/runs').send({ pipeline: 'operator-demo' }).expect(401);
  });

  it('plans without starting anything on a dry run', async () => {
    const dry = await postRun({ pipeline: 'operator-demo', cutoff: '2026-09-30', dryRun: true }).expect(200);
    expect(dry.body.plan).toMatchObject({
      pipeline: 'operator-demo',
      cutoff: '2026-09-30',
      cutoffSource: 'explicit',
    });
    expect(dry.body.plan.steps.map((step: { id: string }) => step.id)).toContain('right.train');
    expect(
      dry.body.plan.steps.every((step: { cacheKey: string }) => /^[0-9a-f]{8,}$/.test(step.cacheKey)),
    ).toBe(true);
  });

  it('starts a run once per key, marks a waiting step succeeded, approves, and shows the run finished', async () => {
    const runKey = `api-${randomUUID().slice(0, 8)}`;
    const started = await postRun({ pipeline: 'operator-demo', runKey, cutoff: '2026-09-30' }).expect(201);
    const workflowId = started.body.workflowId as string;
    expect(workflowId).toBe(`operator-demo/${runKey}`);
    expect(started.body.webUiUrl).toContain(encodeURIComponent(workflowId));
    const again = await postRun({ pipeline: 'operator-demo', runKey }).expect(200);
    expect(again.body).toMatchObject({ workflowId, runId: started.body.runId, existing: true });

    await until(workflowId, ({ run }) => stepState(run, 'right.train') === 'awaiting-decision');
    await request(suite.http)
      .post(`${path(workflowId)}/steps/nope/retry`)
      .set(auth)
      .expect(404);
    const conflict = await request(suite.http)
      .post(`${path(workflowId)}/steps/left.train/retry`)
      .set(auth)
      .expect(409);
    expect(conflict.body.message).toMatch(/left.train is succeeded/);
    await request(suite.http)
      .post(`${path(workflowId)}/steps/right.train/mark-succeeded`)
      .set(auth)
      .send({})
      .expect(400);

    const marked = await request(suite.http)
      .post(`${path(workflowId)}/steps/right.train/mark-succeeded`)
      .set(operator)
      .send({ reason: 'checked by hand' })
      .expect(200);
    // The answer already holds the workflow's verdict (an Update): no signal, no polling.
    expect(marked.body.operatorActions.at(-1)).toMatchObject({
      signal: 'markSucceeded',
      accepted: true,
      actor: 'night-shift',
    });
    expect(marked.body.startedBy).toBe('runner');

    await until(workflowId, ({ run }) =>
      run.steps.some((step) => step.id === 'promote' && step.awaiting === 'approval'),
    );
    await request(suite.http)
      .post(`${path(workflowId)}/approve`)
      .set(auth)
      .send({})
      .expect(200);
    const done = await until(workflowId, ({ status }) => status === 'COMPLETED');
    expect(done.run.state).toBe('succeeded');
    expect(done.run.startedBy).toBe('runner');
    expect(done.run.operatorActions.map((action) => [action.signal, action.actor])).toEqual([
      ['markSucceeded', 'night-shift'],
      ['approve', 'runner'],
    ]);
    // In history: who started (the input) and who acted (the accepted Updates); rejected ones left nothing.
    const history = await suite.env.client.workflow.getHandle(workflowId).fetchHistory();
    const accepted = (history.events ?? []).filter(
      (event) => event.workflowExecutionUpdateAcceptedEventAttributes,
    );
    expect(
      accepted.map(
        (event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name,
      ),
    ).toEqual(['markSucceeded', 'approve']);
    const startPayload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(defaultPayloadConverter.fromPayload(startPayload!)).toMatchObject({ startedBy: 'runner' });
    expect((history.events ?? []).some((event) => event.workflowExecutionSignaledEventAttributes)).toBe(
      false,
    );
    expect(stepState(done.run, 'right.train')).toBe('marked-succeeded');

    const finished = await request(suite.http)
      .post(`${path(workflowId)}/steps/evaluate/rerun`)
      .set(auth)
      .expect(409);
    expect(finished.body.message).toMatch(/start a new run with from=evaluate and reuseRunId=/);
    const listed = await request(suite.http)
      .get('/runs?pipeline=operator-demo&state=succeeded')
      .set(auth)
      .expect(200);
    expect(listed.body.map((run: { workflowId: string }) => run.workflowId)).toContain(workflowId);
  });

  it('aborts a waiting run and refuses a second abort', async () => {
    const started = await postRun({
      pipeline: 'operator-demo',
      runKey: `abort-${randomUUID().slice(0, 8)}`,
    }).expect(201);
    const workflowId = started.body.workflowId as string;
    await until(workflowId, ({ run }) => stepState(run, 'right.train') === 'awaiting-decision');
    await request(suite.http)
      .post(`${path(workflowId)}/abort`)
      .set(auth)
      .send({ reason: 'wrong data' })
      .expect(200);
    const aborted = await until(workflowId, ({ run }) => run.state === 'aborted');
    expect(aborted.run.abortReason).toBe('wrong data');
    await request(suite.http)
      .post(`${path(workflowId)}/abort`)
      .set(auth)
      .send({ reason: 'again' })
      .expect(409);
  });
});

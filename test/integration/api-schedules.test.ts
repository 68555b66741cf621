import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { demoPipeline } from '../../pipelines/demo/pipeline';
import { useApiSuite } from '../harness/api-stack';
import { createBuiltinWorker } from './runner-fixtures';

const TOKEN = 'test-token';
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('API: auth, pipelines and schedules against a real dev server', () => {
  // The worker plans each schedule's runs when it is created or changed, and runs what it starts.
  const suite = useApiSuite({
    tokens: `other:viewer:other-secret,scheduler:admin:${TOKEN}`,
    worker: (env) => createBuiltinWorker(env, [demoPipeline]),
  });

  /** Polls a condition through the API (schedules act asynchronously on the server). */
  async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
    for (let i = 0; i < 100; i++) {
      const value = await probe();
      if (ok(value)) return value;
      await new Promise((resolve) => setImmediate(resolve));
      await suite.env.client.workflowService.getSystemInfo({}); // one round trip between probes
    }
    throw new Error('condition not reached');
  }

  it('answers 401 without a valid bearer token, except on /health', async () => {
    await request(suite.http).get('/pipelines').expect(401);
    await request(suite.http).get('/schedules').set('Authorization', 'Bearer nope').expect(401);
    const response = await request(suite.http)
      .get('/schedules')
      .set('Authorization', 'Basic abc')
      .expect(401);
    expect(response.body.message).toMatch(/bearer token/);
    await request(suite.http).get('/health').expect(200);
  });

  it('lists pipelines and shows one as a DAG', async () => {
    const list = await request(suite.http).get('/pipelines').set(auth).expect(200);
    expect(list.body).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'demo' })]));
    const demo = await request(suite.http).get('/pipelines/demo').set(auth).expect(200);
    expect(demo.body.steps.find((step: { id: string }) => step.id === 'evaluate').after).toEqual([
      'share.train',
      'quality.train',
    ]);
    const missing = await request(suite.http).get('/pipelines/nope').set(auth).expect(404);
    expect(missing.body.message).toMatch(/unknown pipeline nope/);
  });

  it('rejects invalid schedules naming the bad field', async () => {
    const noCron = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'x', pipeline: 'demo' })
      .expect(400);
    expect(JSON.stringify(noCron.body.message)).toMatch(/cron/);
    const badId = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'Bad Id', pipeline: 'demo', cron: ['0 0 * * *'] })
      .expect(400);
    expect(JSON.stringify(badId.body.message)).toMatch(/^.*id must be/);
    const extra = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'x', pipeline: 'demo', cron: ['0 0 * * *'], color: 'red' })
      .expect(400);
    expect(JSON.stringify(extra.body.message)).toMatch(/property color should not exist/);
    const pipeline = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'x', pipeline: 'nope', cron: ['0 0 * * *'] })
      .expect(400);
    expect(pipeline.body.message).toMatch(/^pipeline: unknown pipeline nope/);
    const params = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'x', pipeline: 'demo', cron: ['0 0 * * *'], params: { region: 'mars' } })
      .expect(400);
    expect(params.body.message).toMatch(/params: .*region/);
    const cron = await request(suite.http)
      .post('/schedules')
      .set(auth)
      .send({ id: 'x', pipeline: 'demo', cron: ['not a cron'] })
      .expect(400);
    expect(JSON.stringify(cron.body.message)).toMatch(/cron: each must be five fields/);
  });

  it('creates, reads, updates, pauses, triggers, backfills and deletes a schedule', async () => {
    const body = {
      id: 'demo-quarterly',
      pipeline: 'demo',
      cron: ['0 6 1 1,4,7,10 *'],
      params: { region: 'us' },
    };
    const created = await request(suite.http).post('/schedules').set(auth).send(body).expect(201);
    expect(created.body).toMatchObject({
      id: 'demo-quarterly',
      pipeline: 'demo',
      cron: body.cron,
      params: { region: 'us' },
      paused: false,
      // A run still going at the next time queues one run: no two runs side by side, no lost run.
      overlap: 'BUFFER_ONE',
    });
    expect(new Date(created.body.nextRuns[0]).getUTCHours()).toBe(6);
    await request(suite.http).post('/schedules').set(auth).send(body).expect(409);

    const patched = await request(suite.http)
      .patch('/schedules/demo-quarterly')
      .set(auth)
      .send({ cron: ['0 7 1 1,4,7,10 *'] })
      .expect(200);
    expect(patched.body.cron).toEqual(['0 7 1 1,4,7,10 *']);
    expect(patched.body.params).toEqual({ region: 'us' });
    expect(new Date(patched.body.nextRuns[0]).getUTCHours()).toBe(7);

    const paused = await request(suite.http)
      .post('/schedules/demo-quarterly/pause')
      .set(auth)
      .send({ note: 'freeze' })
      .expect(200);
    expect(paused.body).toMatchObject({ paused: true, note: 'freeze' });
    expect(
      (await request(suite.http).post('/schedules/demo-quarterly/unpause').set(auth).send({}).expect(200))
        .body.paused,
    ).toBe(false);

    await request(suite.http).post('/schedules/demo-quarterly/trigger').set(auth).expect(202);
    const triggered = await until(
      async () =>
        (await request(suite.http).get('/schedules/demo-quarterly').set(auth).expect(200)).body as {
          recentRuns: string[];
        },
      (schedule) => schedule.recentRuns.length >= 1,
    );
    expect(triggered.recentRuns[0]).toMatch(/^demo\/demo-quarterly-/);

    // Two past quarters: two runs, each with its own nominal time.
    await request(suite.http)
      .post('/schedules/demo-quarterly/backfill')
      .set(auth)
      .send({ start: '2026-01-01T00:00:00Z', end: '2026-06-30T00:00:00Z' })
      .expect(202);
    const backfilled = await until(
      async () => {
        const ids: string[] = [];
        for await (const run of suite.env.client.workflow.list({
          query: `TemporalScheduledById = 'demo-quarterly'`,
        }))
          ids.push(run.workflowId);
        return ids;
      },
      (ids) => ids.filter((id) => id.includes('2026-01-01') || id.includes('2026-04-01')).length === 2,
    );
    expect(backfilled).toEqual(
      expect.arrayContaining([
        'demo/demo-quarterly-2026-01-01T07:00:00Z',
        'demo/demo-quarterly-2026-04-01T07:00:00Z',
      ]),
    );

    await request(suite.http)
      .post('/schedules/demo-quarterly/backfill')
      .set(auth)
      .send({ start: '2026-06-30T00:00:00Z', end: '2026-01-01T00:00:00Z' })
      .expect(400);
    // A window of more runs than API_BACKFILL_MAX_RUNS (100 by default) is refused before any starts.
    const scheduledRuns = async () => {
      const ids: string[] = [];
      for await (const run of suite.env.client.workflow.list({
        query: `TemporalScheduledById = 'demo-quarterly'`,
      }))
        ids.push(run.workflowId);
      return ids.sort();
    };
    const runsBefore = await scheduledRuns();
    const tooLong = await request(suite.http)
      .post('/schedules/demo-quarterly/backfill')
      .set(auth)
      .send({ start: '1990-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' })
      .expect(400);
    expect(tooLong.body.message).toMatch(
      /^end: the window holds \d+ runs .* more than API_BACKFILL_MAX_RUNS \(100\)/,
    );
    expect(await scheduledRuns()).toEqual(runsBefore);
    // A policy that would drop or cancel backfilled runs is refused, naming the field.
    for (const overlap of ['SKIP', 'BUFFER_ONE', 'CANCEL_OTHER', 'TERMINATE_OTHER']) {
      const refused = await request(suite.http)
        .post('/schedules/demo-quarterly/backfill')
        .set(auth)
        .send({ start: '2025-01-01T00:00:00Z', end: '2025-06-30T00:00:00Z', overlap })
        .expect(400);
      expect(refused.body.message).toMatch(
        new RegExp(`^overlap: ${overlap} would skip or cancel backfilled runs`),
      );
    }
    expect(
      (await request(suite.http).get('/schedules').set(auth).expect(200)).body.map(
        (s: { id: string }) => s.id,
      ),
    ).toContain('demo-quarterly');
    await request(suite.http).delete('/schedules/demo-quarterly').set(auth).expect(204);
    await request(suite.http).get('/schedules/demo-quarterly').set(auth).expect(404);
    await request(suite.http).post('/schedules/demo-quarterly/trigger').set(auth).expect(404);
  });
});

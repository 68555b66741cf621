import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { API_ROLES, loadConfig, type ApiRole } from '../../config';

// Tokens of each role; no Temporal is reachable, so only what the API decides before it is tested.
const SECRETS: Record<ApiRole, string> = {
  viewer: 'viewer-secret-1',
  operator: 'operator-secret-1',
  admin: 'admin-secret-1',
};
const API_TOKENS = API_ROLES.map((role) => `${role}-token:${role}:${SECRETS[role]}`).join(',');

/** Every route with the least role it needs (README's table); a route missing here fails the first test. */
const ROUTES: { method: 'get' | 'post' | 'patch' | 'delete'; path: string; role: ApiRole; body?: object }[] =
  [
    { method: 'get', path: '/runs', role: 'viewer' },
    { method: 'get', path: '/metrics', role: 'viewer' },
    { method: 'get', path: '/runs/p%2Fk', role: 'viewer' },
    { method: 'get', path: '/pipelines', role: 'viewer' },
    { method: 'get', path: '/pipelines/demo', role: 'viewer' },
    { method: 'get', path: '/schedules', role: 'viewer' },
    { method: 'get', path: '/schedules/s', role: 'viewer' },
    { method: 'post', path: '/runs', role: 'operator', body: { pipeline: 'demo', dryRun: true } },
    {
      method: 'post',
      path: '/pipelines/demo/arrivals',
      role: 'operator',
      body: { date: '2026-11-30', item: '2026-11-30/sensor-1' },
    },
    { method: 'post', path: '/runs/p%2Fk/steps/a/mark-succeeded', role: 'operator', body: { reason: 'r' } },
    { method: 'post', path: '/runs/p%2Fk/steps/a/retry', role: 'operator' },
    { method: 'post', path: '/runs/p%2Fk/steps/a/rerun', role: 'operator' },
    {
      method: 'post',
      path: '/runs/p%2Fk/steps/a/items/i/mark-succeeded',
      role: 'operator',
      body: { reason: 'r' },
    },
    { method: 'post', path: '/runs/p%2Fk/steps/a/items/i/retry', role: 'operator' },
    { method: 'post', path: '/runs/p%2Fk/approve', role: 'operator', body: {} },
    { method: 'post', path: '/runs/p%2Fk/abort', role: 'operator', body: { reason: 'r' } },
    {
      method: 'post',
      path: '/schedules',
      role: 'admin',
      body: { id: 's', pipeline: 'demo', cron: ['0 6 * * *'] },
    },
    { method: 'patch', path: '/schedules/s', role: 'admin', body: {} },
    { method: 'delete', path: '/schedules/s', role: 'admin' },
    { method: 'post', path: '/schedules/s/trigger', role: 'admin' },
    { method: 'post', path: '/schedules/s/pause', role: 'admin', body: {} },
    { method: 'post', path: '/schedules/s/unpause', role: 'admin', body: {} },
    {
      method: 'post',
      path: '/schedules/s/backfill',
      role: 'admin',
      body: { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
    },
  ];

describe('API roles: viewer reads, operator acts on runs, admin starts runs and changes schedules', () => {
  let app: INestApplication;
  let http: App;
  beforeAll(async () => {
    app = await createApp(loadConfig({ API_TOKENS, TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    await app.init();
    http = app.getHttpServer() as App;
  });
  afterAll(async () => {
    await app?.close();
  });

  const call = (route: (typeof ROUTES)[number], role?: ApiRole) => {
    const pending = request(http)[route.method](route.path);
    if (role) pending.set('Authorization', `Bearer ${SECRETS[role]}`);
    return route.body ? pending.send(route.body) : pending;
  };

  it('lists every route of the OpenAPI document', async () => {
    const document = (await request(http).get('/docs-json').set('Authorization', `Bearer ${SECRETS.viewer}`))
      .body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths)
      .filter(([path]) => path !== '/health')
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`))
      .sort();
    const template = (path: string) =>
      path
        .replace('p%2Fk', '{id}')
        .replace('/steps/a/', '/steps/{step}/')
        .replace('/items/i/', '/items/{item}/')
        .replace(/^\/schedules\/s(?=\/|$)/, '/schedules/{id}')
        .replace('/pipelines/demo', '/pipelines/{name}');
    const listed = ROUTES.map((route) => `${route.method} ${template(route.path)}`).sort();
    expect(listed).toEqual(documented);
  });

  it('answers 401 to every route without a token or with an unknown one', async () => {
    for (const route of ROUTES) {
      await call(route).expect(401);
      await request(http)[route.method](route.path).set('Authorization', 'Bearer not-a-token').expect(401);
    }
  });

  it('answers 403 to each role below the one a route needs, naming the token and the role needed', async () => {
    let checked = 0;
    for (const route of ROUTES) {
      for (const role of API_ROLES.slice(0, API_ROLES.indexOf(route.role))) {
        const response = await call(route, role);
        expect(response.status, `${route.method} ${route.path} as ${role}`).toBe(403);
        expect(response.body.message).toContain(`token ${role}-token has role ${role}`);
        checked++;
      }
    }
    expect(checked).toBe(23);
  });

  it('lets an operator plan but not start a run, and keeps privileged parameters for admins', async () => {
    const start = await request(http)
      .post('/runs')
      .set('Authorization', `Bearer ${SECRETS.operator}`)
      .send({ pipeline: 'demo' })
      .expect(403);
    expect(start.body.message).toMatch(/starting a run needs admin/);
    const weakened = await request(http)
      .post('/runs')
      .set('Authorization', `Bearer ${SECRETS.operator}`)
      .send({ pipeline: 'demo', dryRun: true, params: { require_approval: false } })
      .expect(403);
    expect(weakened.body.message).toMatch(/^params\.require_approval: .*needs the admin role/);
  });
});

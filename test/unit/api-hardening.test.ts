import type { INestApplication } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';

// The audit's API findings (issue 13): no security headers, no rate limit, /docs without auth, TRACE
// answered 404. No Temporal is reachable: only what the API decides before it is tested.
const ADMIN = 'hardening-admin-secret';
const OTHER_ADMIN = 'hardening-other-secret';
const VIEWER = 'hardening-viewer-secret';
const TOKENS = `root:admin:${ADMIN},second:admin:${OTHER_ADMIN},reader:viewer:${VIEWER}`;

const apps: INestApplication[] = [];
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

/** An API on a free loopback port, with this config; its base URL. */
async function serve(config: Record<string, string> = {}): Promise<string> {
  const app = await createApp(loadConfig({ API_TOKENS: TOKENS, TEMPORAL_ADDRESS: '127.0.0.1:1', ...config }));
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

const get = (base: string, path: string, token?: string) =>
  fetch(`${base}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});

/** Any method, over node:http (fetch refuses to send TRACE). */
function send(base: string, method: string, path: string, token = ADMIN) {
  return new Promise<{ status: number; allow: string | undefined; body: string }>((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, allow: response.headers.allow, body }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

describe('API hardening', () => {
  it('sends security headers (helmet) on every answer, public or not, and no X-Powered-By', async () => {
    const base = await serve();
    for (const response of [
      await get(base, '/health'),
      await get(base, '/pipelines', VIEWER),
      await get(base, '/pipelines'), // 401
      await get(base, '/no-such-route', VIEWER), // 404
    ]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('answers 429 past API_RATE_LIMIT requests a minute from one address, on every route but /health', async () => {
    const base = await serve({ API_RATE_LIMIT: '5' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get(base, '/pipelines', VIEWER)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // Per address, whatever the token (or none).
    expect((await get(base, '/pipelines', ADMIN)).status).toBe(429);
    expect((await get(base, '/schedules')).status).toBe(429);
    const limited = await get(base, '/pipelines/demo', VIEWER);
    expect(await limited.json()).toMatchObject({ statusCode: 429 });
    // When to come back (the throttler names the limit: Retry-After-requests).
    expect(limited.headers.get('retry-after-requests') ?? limited.headers.get('retry-after')).toMatch(
      /^\d+$/,
    );
    // Liveness probes are never limited.
    expect((await get(base, '/health')).status).not.toBe(429);
  });

  it('answers 429 past API_START_RATE_LIMIT run starts a minute per token; dry runs do not count', async () => {
    const base = await serve({ API_START_RATE_LIMIT: '2' });
    const post = (token: string, body: object) =>
      fetch(`${base}/runs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).then((response) => response.status);
    // Temporal is unreachable (each call waits for its connect timeout, so they go together): the
    // starts that pass the limit fail with 503. Dry runs (planned by the worker) start nothing and
    // do not count; another token has its own budget.
    const first = await Promise.all([
      post(ADMIN, { pipeline: 'demo', dryRun: true }),
      post(ADMIN, { pipeline: 'demo', dryRun: true }),
      post(ADMIN, { pipeline: 'demo', dryRun: true }),
      post(ADMIN, { pipeline: 'demo', runKey: 'start-0' }),
      post(ADMIN, { pipeline: 'demo', runKey: 'start-1' }),
      post(OTHER_ADMIN, { pipeline: 'demo', runKey: 'other' }),
    ]);
    expect(first).toEqual([503, 503, 503, 503, 503, 503]);
    // The third start of the token, and one through another route that starts runs, are refused first.
    expect(await post(ADMIN, { pipeline: 'demo', runKey: 'start-2' })).toBe(429);
    const trigger = await fetch(`${base}/schedules/s/trigger`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    expect(trigger.status).toBe(429);
  }, 60_000);

  it('keeps /docs, /docs-json and /docs-yaml behind a token (API_DOCS=auth, the default)', async () => {
    const base = await serve();
    for (const path of ['/docs', '/docs-json', '/docs-yaml']) {
      const anonymous = await get(base, path);
      expect(anonymous.status, path).toBe(401);
      expect(await anonymous.text()).not.toMatch(/openapi|swagger/i);
      expect((await get(base, path, 'not-a-token')).status, path).toBe(401);
      expect((await get(base, path, VIEWER)).status, path).toBe(200);
    }
    const off = await serve({ API_DOCS: 'off' });
    for (const path of ['/docs', '/docs-json', '/docs-yaml'])
      expect((await get(off, path, ADMIN)).status, `off ${path}`).toBe(404);
    const open = await serve({ API_DOCS: 'public' });
    expect((await get(open, '/docs-json')).status).toBe(200);
  });

  it('refuses inherited names as query parameters (they would be silently ignored), naming the key', async () => {
    const base = await serve();
    for (const key of ['toString', 'valueOf', 'hasOwnProperty', '__proto__', 'constructor']) {
      for (const path of ['/runs', '/pipelines', '/schedules']) {
        const response = await get(base, `${path}?${key}=x&limit=5`, VIEWER);
        expect(response.status, `${path}?${key}`).toBe(400);
        expect(((await response.json()) as { message: string }).message).toContain(`"${key}" is not allowed`);
      }
    }
    // Other unknown query parameters stay the validation's (400 naming them).
    const unknown = await get(base, '/runs?color=red', VIEWER);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toMatch(/property color should not exist/);
  });

  it('answers 405 with Allow to a method a path does not take (TRACE included), 404 to an unknown path', async () => {
    const base = await serve();
    const cases: [string, string, string][] = [
      ['TRACE', '/runs', 'GET, POST, HEAD'],
      ['TRACE', '/health', 'GET, HEAD'],
      ['PUT', '/runs/demo%2Fx', 'GET, HEAD'],
      ['DELETE', '/runs', 'GET, POST, HEAD'],
      ['PATCH', '/pipelines/demo', 'GET, HEAD'],
      ['GET', '/schedules/s/trigger', 'POST'],
      ['TRACE', '/docs-json', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await send(base, method, path);
      expect(response.status, `${method} ${path}`).toBe(405);
      const methods = (header?: string) => (header ?? '').split(', ').sort();
      expect(methods(response.allow), `${method} ${path}`).toEqual(methods(allow));
      expect(JSON.parse(response.body)).toMatchObject({ statusCode: 405 });
    }
    expect((await send(base, 'TRACE', '/nowhere')).status).toBe(404);
  });
});

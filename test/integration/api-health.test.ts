import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';
import { freePort } from '../../activities/providers/process';
import { createDevServerEnv } from '../harness/temporal';

async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  return await app.getUrl();
}

describe('API /health against a real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let app: INestApplication;
  let down: INestApplication;
  beforeAll(async () => {
    env = await createDevServerEnv();
    app = await createApp(
      loadConfig({ TEMPORAL_ADDRESS: env.address, API_TOKENS: 'reader:viewer:health-secret' }),
    );
    // Nothing listens on this port: the API must start anyway and report Temporal as down.
    down = await createApp(loadConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }));
  });
  afterAll(async () => {
    await Promise.all([app?.close(), down?.close()]);
    await env?.teardown();
  });

  it('is 200 when Temporal answers', async () => {
    const response = await fetch(`${await listen(app)}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'up' });
  });

  it('is 503 and says only "down" when Temporal does not answer (no address, no error text)', async () => {
    const response = await fetch(`${await listen(down)}/health`);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ status: 'down' });
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|Temporal/);
  });

  it('serves its OpenAPI document to a token holder only (API_DOCS=auth, the default)', async () => {
    const url = await app.getUrl();
    expect((await fetch(`${url}/docs-json`)).status).toBe(401);
    const document = (await (
      await fetch(`${url}/docs-json`, { headers: { Authorization: 'Bearer health-secret' } })
    ).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toContain('/health');
  });
});

import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, DocumentBuilder, type OpenAPIObject } from '@nestjs/swagger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';

interface Operation {
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}

interface RouterLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every route the HTTP server really serves, read from Express's router (not from a hand-kept list). */
function registeredRoutes(app: INestApplication): { method: string; path: string }[] {
  const express = app.getHttpAdapter().getInstance() as { router: { stack: RouterLayer[] } };
  return (
    express.router.stack
      // Catch-all middleware (nestjs-pino's request logger, mounted on `{*splat}`) is not a route.
      .filter(
        (layer) =>
          layer.route && !layer.route.path.startsWith('/docs') && !layer.route.path.includes('*splat'),
      )
      .flatMap((layer) =>
        Object.keys(layer.route!.methods).map((method) => ({
          method,
          path: layer.route!.path.replace(/:(\w+)/g, '{$1}'),
        })),
      )
  );
}

describe('OpenAPI document', () => {
  let app: INestApplication;
  let document: OpenAPIObject;
  beforeAll(async () => {
    app = await createApp(loadConfig({ API_TOKENS: 'docs:viewer:docs-secret' }));
    await app.init();
    document = SwaggerModule.createDocument(app, new DocumentBuilder().build());
  });
  afterAll(async () => {
    await app?.close();
  });

  it('documents every route, with request and response schemas', () => {
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const { method, path } of routes) {
      const operation = (document.paths[path] as Record<string, Operation> | undefined)?.[method];
      expect(operation, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
      const success = Object.entries(operation!.responses).filter(([code]) => code.startsWith('2'));
      expect(success.length, `${method.toUpperCase()} ${path} has a success response`).toBeGreaterThan(0);
      const bodiless = success.every(([code]) => code === '202' || code === '204');
      if (!bodiless) {
        // JSON for every route but /metrics (Prometheus text format).
        const schemas = success.flatMap(([, response]) =>
          Object.values(response.content ?? {}).map((content) => content.schema),
        );
        expect(schemas.some(Boolean), `${method.toUpperCase()} ${path} has a response schema`).toBe(true);
      }
      if (method === 'post' || method === 'patch') {
        const hasParamsOnly = !operation!.requestBody;
        // Actions without a body (retry, rerun, trigger) take none; the others declare their DTO.
        if (!hasParamsOnly) expect(operation!.requestBody!.content['application/json']?.schema).toBeDefined();
      }
    }
  });

  it('declares bearer auth on every route but /health', () => {
    const secured = (path: string, method: string) =>
      Boolean(((document.paths[path] as Record<string, Operation>)[method]?.security ?? []).length);
    for (const { method, path } of registeredRoutes(app)) {
      expect(secured(path, method), `${method} ${path}`).toBe(path !== '/health');
    }
  });

  it('declares the request bodies of the routes that take one', () => {
    const bodyOf = (path: string, method: string) =>
      (document.paths[path] as Record<string, Operation>)[method]?.requestBody?.content['application/json']
        ?.schema;
    for (const [path, method] of [
      ['/runs', 'post'],
      ['/runs/{id}/steps/{step}/mark-succeeded', 'post'],
      ['/runs/{id}/approve', 'post'],
      ['/runs/{id}/abort', 'post'],
      ['/schedules', 'post'],
      ['/schedules/{id}', 'patch'],
      ['/schedules/{id}/backfill', 'post'],
    ] as const) {
      expect(bodyOf(path, method), `${method} ${path}`).toBeDefined();
    }
  });
});

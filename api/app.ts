import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config';
import { AppModule, type AppOptions } from './app.module';
import { BearerAuthGuard } from './auth/bearer-auth.guard';
import { refineDocument } from './openapi';
import { pipelines as defaultPipelines } from '../pipelines';

type Next = (error?: unknown) => void;

/**
 * Builds the API: security headers (helmet), a stated body limit, 405 for a method a path does not
 * take, global validation (whitelist + transform), and OpenAPI at /docs (JSON at /docs-json) behind
 * a token unless API_DOCS says `public` (or `off`).
 */
export async function createApp(config: Config, options: AppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config, options), {
    bufferLogs: true,
    bodyParser: false,
  });
  // Nest's own messages go through pino too, as JSON at LOG_LEVEL; its start-up chatter (mapped
  // routes, modules initialised) at debug, so `info` is quiet.
  const logger = app.get(Logger);
  app.useLogger({
    log: (message: unknown, ...rest: unknown[]) => logger.debug(message, ...rest),
    error: (message: unknown, ...rest: unknown[]) => logger.error(message, ...rest),
    warn: (message: unknown, ...rest: unknown[]) => logger.warn(message, ...rest),
    debug: (message: unknown, ...rest: unknown[]) => logger.debug(message, ...rest),
    verbose: (message: unknown, ...rest: unknown[]) => logger.verbose(message, ...rest),
    fatal: (message: unknown, ...rest: unknown[]) => logger.fatal(message, ...rest),
  });
  app.use(helmet());
  app.useBodyParser('json', { limit: config.API_BODY_LIMIT, reviver: refuseProtoKey });
  app.use(refuseInheritedQueryKeys);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.enableShutdownHooks();
  const document = refineDocument(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Retrainer')
        .setDescription('Durable ML retraining pipelines')
        .addBearerAuth()
        .build(),
    ),
    options.pipelines ?? defaultPipelines,
  );
  app.use(methodNotAllowed(document, config.API_DOCS !== 'off'));
  if (config.API_DOCS === 'auth') {
    const guard = new BearerAuthGuard(new Reflector(), config);
    app.use(
      ['/docs', '/docs-json', '/docs-yaml'],
      (request: IncomingMessage, response: ServerResponse, next: Next) => {
        try {
          guard.authenticate(request.headers.authorization ?? '');
          next();
        } catch (error) {
          response.statusCode = 401;
          response.setHeader('content-type', 'application/json; charset=utf-8');
          response.end(
            JSON.stringify({ statusCode: 401, message: (error as Error).message, error: 'Unauthorized' }),
          );
        }
      },
    );
  }
  if (config.API_DOCS !== 'off') SwaggerModule.setup('docs', app, document);
  return app;
}

/**
 * Answers 405 (with `Allow`) when a path exists but not with the request's method (Express would say
 * 404), from the routes of the OpenAPI document.
 */
function methodNotAllowed(document: OpenAPIObject, docs: boolean) {
  const routes = Object.entries(document.paths).map(([path, item]) => ({
    pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    methods: Object.keys(item)
      .filter((key) => ['get', 'put', 'post', 'delete', 'patch'].includes(key))
      .map((key) => key.toUpperCase()),
  }));
  if (docs) routes.push({ pattern: /^\/docs(-json|-yaml)?(\/.*)?$/, methods: ['GET'] });
  return (request: IncomingMessage, response: ServerResponse, next: Next) => {
    const path = (request.url ?? '/').split('?')[0] as string;
    const route = routes.find((candidate) => candidate.pattern.test(path));
    const allowed = route ? [...route.methods, ...(route.methods.includes('GET') ? ['HEAD'] : [])] : [];
    if (!route || allowed.includes(request.method ?? '')) return next();
    response.statusCode = 405;
    response.setHeader('allow', allowed.join(', '));
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(
      JSON.stringify({
        statusCode: 405,
        message: `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
        error: 'Method Not Allowed',
      }),
    );
  };
}

/**
 * JSON.parse makes `"__proto__"` an own key, but class-transformer's copy of the body would turn it
 * into the object's prototype, and it takes a `constructor` key for the object's class: refuse these
 * keys at any depth, as bad JSON naming the key. The body's own top-level keys may not be any other
 * name objects inherit either (`toString`, `valueOf`, `hasOwnProperty`…): class-transformer skips
 * them when it builds the DTO, so the validation pipe would never see them and they would vanish
 * silently. Inside free-form objects (`params`) they reach validation and are refused there as
 * unknown parameters.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const INHERITED_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
const refused = (key: string) => new SyntaxError(`"${key}" is not allowed as a key in a request body`);
function refuseProtoKey(key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key)) throw refused(key);
  // The reviver sees the whole body last, under the key '' (a nested '' key is checked the same way).
  if (key === '' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const inherited = Object.keys(value).find((name) => INHERITED_KEYS.has(name));
    if (inherited !== undefined) throw refused(inherited);
  }
  return value;
}

/**
 * The same for query strings: `?toString=x` would be skipped by class-transformer and never reach
 * validation (silently ignored); refused with 400 naming the key instead.
 */
function refuseInheritedQueryKeys(
  request: IncomingMessage & { query?: unknown },
  response: ServerResponse,
  next: Next,
): void {
  const query = request.query;
  const key =
    query !== null && typeof query === 'object'
      ? Object.keys(query).find((name) => INHERITED_KEYS.has(name) || FORBIDDEN_KEYS.has(name))
      : undefined;
  if (key === undefined) return next();
  response.statusCode = 400;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(
    JSON.stringify({
      statusCode: 400,
      message: `"${key}" is not allowed as a query parameter`,
      error: 'Bad Request',
    }),
  );
}

import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Config } from '../config';
import { AppModule, type AppOptions } from './app.module';

/** Builds the API: global validation (whitelist + transform) and OpenAPI at /docs (JSON at /docs-json). */
export async function createApp(config: Config, options: AppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forConfig(config, options), { bufferLogs: true });
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
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Retrainer')
      .setDescription('Durable ML retraining pipelines')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  return app;
}

import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Config } from '../config';
import { AppModule, type AppOptions } from './app.module';

/** Builds the API: global validation (whitelist + transform) and OpenAPI at /docs (JSON at /docs-json). */
export async function createApp(config: Config, options: AppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forConfig(config, options), { logger: ['error', 'warn'] });
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

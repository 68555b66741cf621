import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { Config } from '../config';
import { apiLoggerParams } from './logging';
import type { DestinationStream } from 'pino';
import { pipelines as defaultPipelines, type PipelineRegistry } from '../pipelines';
import { BearerAuthGuard } from './auth/bearer-auth.guard';
import { startsRuns, tokenTracker } from './auth/starts-runs';
import { CONFIG, PIPELINES } from './config.token';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { PipelinesController } from './pipelines/pipelines.controller';
import { RunsController } from './runs/runs.controller';
import { PlannerService } from './runs/planner.service';
import { RunsService } from './runs/runs.service';
import { SchedulesController } from './schedules/schedules.controller';
import { SchedulesService } from './schedules/schedules.service';
import { TemporalService } from './temporal/temporal.service';

export interface AppOptions {
  /** The pipelines the API knows; the worker's registry by default. */
  pipelines?: PipelineRegistry;
  /** Where the JSON log lines go (stdout by default; tests pass a stream). */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule {
  static forConfig(config: Config, options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(apiLoggerParams(config, options.logDestination)),
        // Per client address over all routes together but /health (not per route: a client spreading
        // its requests over the routes gets no more); run starts also per token, over every route
        // that starts runs (GPU-hours).
        ThrottlerModule.forRoot({
          generateKey: (_context, tracker, throttler) => `${throttler}:${tracker}`,
          throttlers: [
            { name: 'requests', ttl: 60_000, limit: config.API_RATE_LIMIT },
            {
              name: 'starts',
              ttl: 60_000,
              limit: config.API_START_RATE_LIMIT,
              skipIf: (context) => !startsRuns(context),
              getTracker: (request) => tokenTracker(request),
            },
          ],
        }),
      ],
      controllers: [
        HealthController,
        PipelinesController,
        RunsController,
        SchedulesController,
        MetricsController,
      ],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: PIPELINES, useValue: options.pipelines ?? defaultPipelines },
        { provide: APP_GUARD, useClass: ThrottlerGuard },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        TemporalService,
        SchedulesService,
        RunsService,
        PlannerService,
        MetricsService,
      ],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { Config } from '../config';
import { pipelines as defaultPipelines, type PipelineRegistry } from '../pipelines';
import { BearerAuthGuard } from './auth/bearer-auth.guard';
import { startsRuns, tokenTracker } from './auth/starts-runs';
import { CONFIG, PIPELINES } from './config.token';
import { HealthController } from './health/health.controller';
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
}

@Module({})
export class AppModule {
  static forConfig(config: Config, options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // Per client address on every route but /health; run starts also per token (GPU-hours).
        ThrottlerModule.forRoot({
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
      controllers: [HealthController, PipelinesController, RunsController, SchedulesController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: PIPELINES, useValue: options.pipelines ?? defaultPipelines },
        { provide: APP_GUARD, useClass: ThrottlerGuard },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        TemporalService,
        SchedulesService,
        RunsService,
        PlannerService,
      ],
    };
  }
}

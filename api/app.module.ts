import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Config } from '../config';
import { pipelines as defaultPipelines, type PipelineRegistry } from '../pipelines';
import { BearerAuthGuard } from './auth/bearer-auth.guard';
import { CONFIG, PIPELINES } from './config.token';
import { HealthController } from './health/health.controller';
import { PipelinesController } from './pipelines/pipelines.controller';
import { RunsController } from './runs/runs.controller';
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
      controllers: [HealthController, PipelinesController, RunsController, SchedulesController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: PIPELINES, useValue: options.pipelines ?? defaultPipelines },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        TemporalService,
        SchedulesService,
        RunsService,
      ],
    };
  }
}

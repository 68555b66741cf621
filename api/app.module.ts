import { Module, type DynamicModule } from '@nestjs/common';
import type { Config } from '../config';
import { CONFIG } from './config.token';
import { HealthController } from './health/health.controller';
import { TemporalService } from './temporal/temporal.service';

@Module({})
export class AppModule {
  static forConfig(config: Config): DynamicModule {
    return {
      module: AppModule,
      controllers: [HealthController],
      providers: [{ provide: CONFIG, useValue: config }, TemporalService],
      exports: [TemporalService],
    };
  }
}

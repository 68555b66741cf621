import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { contentType } from 'prom-client';
import { MetricsService } from './metrics.service';

@ApiTags('metrics')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus text format: runs by state, running trainings' step and loss, the API process. */
  @Get()
  @Header('Content-Type', contentType)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({
    description: 'Prometheus exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  async scrape(): Promise<string> {
    return await this.metrics.render();
  }
}

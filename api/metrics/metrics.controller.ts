import { Controller, Get, Header } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { RequireRole } from '../auth/roles';
import { contentType } from 'prom-client';
import { MetricsService } from './metrics.service';

@ApiTags('metrics')
@ApiBearerAuth()
@RequireRole('viewer')
@ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token' })
@ApiTooManyRequestsResponse({ description: 'Rate limit (API_RATE_LIMIT) reached' })
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

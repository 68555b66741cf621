import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { ServerResponse } from 'node:http';
import { Public } from '../auth/public.decorator';
import { TemporalService } from '../temporal/temporal.service';

export class HealthDto {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' })
  status!: 'up' | 'down';
}

/**
 * Public, so it says only up or down: no addresses, versions or errors for anyone to read. Never rate
 * limited (a probe polls it from one address); each named throttler must be skipped by name.
 */
@ApiTags('health')
@Public()
@SkipThrottle({ requests: true, starts: true })
@Controller('health')
export class HealthController {
  constructor(private readonly temporal: TemporalService) {}

  /** Up when Temporal answers a real RPC. */
  @Get()
  @ApiOkResponse({ type: HealthDto, description: 'Temporal answers' })
  @ApiServiceUnavailableResponse({ type: HealthDto, description: 'Temporal does not answer' })
  async health(@Res({ passthrough: true }) response: ServerResponse): Promise<HealthDto> {
    try {
      await this.temporal.ping();
      response.statusCode = 200;
      return { status: 'up' };
    } catch {
      response.statusCode = 503;
      return { status: 'down' };
    }
  }
}

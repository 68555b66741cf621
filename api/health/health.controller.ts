import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { TemporalService } from '../temporal/temporal.service';

export class HealthDto {
  @ApiProperty({ example: 'ok' })
  status!: 'ok';

  @ApiProperty({ example: '127.0.0.1:7233' })
  temporal!: string;
}

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly temporal: TemporalService) {}

  /** Healthy when Temporal answers a real RPC. */
  @Get()
  @HttpCode(200)
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ description: 'Temporal is unreachable' })
  async health(): Promise<HealthDto> {
    try {
      await this.temporal.ping();
    } catch (error) {
      throw new ServiceUnavailableException(
        `Temporal at ${this.temporal.address} is unreachable: ${(error as Error).message}`,
      );
    }
    return { status: 'ok', temporal: this.temporal.address };
  }
}

import { Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { RequireRole } from '../auth/roles';
import type { PipelineRegistry } from '../../pipelines';
import { PIPELINES } from '../config.token';
import { ParameterDto, PipelineDto, PipelineSummaryDto } from './pipeline.dto';

@ApiTags('pipelines')
@ApiBearerAuth()
@RequireRole('viewer')
@ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token' })
@ApiTooManyRequestsResponse({ description: 'Rate limit (API_RATE_LIMIT) reached' })
@ApiExtraModels(ParameterDto)
@Controller('pipelines')
export class PipelinesController {
  constructor(@Inject(PIPELINES) private readonly pipelines: PipelineRegistry) {}

  @Get()
  @ApiOkResponse({ type: [PipelineSummaryDto] })
  list(): PipelineSummaryDto[] {
    return [...this.pipelines.values()].map((p) => ({
      name: p.name,
      description: p.description,
      steps: p.steps.length,
    }));
  }

  @Get(':name')
  @ApiOkResponse({ type: PipelineDto })
  @ApiNotFoundResponse({ description: 'No pipeline has that name' })
  get(@Param('name') name: string): PipelineDto {
    const pipeline = this.pipelines.get(name);
    if (!pipeline)
      throw new NotFoundException(
        `unknown pipeline ${name}; known: ${[...this.pipelines.keys()].join(', ')}`,
      );
    return {
      name: pipeline.name,
      description: pipeline.description,
      parameters: pipeline.parameters,
      steps: pipeline.steps.map((step) => ({
        id: step.id,
        after: step.after,
        kind: step.kind,
        version: step.version,
        cache: step.cache,
        approval: step.approval,
        onFailure: step.onFailure,
        outputs: step.outputs,
        description: step.description,
      })),
    };
  }
}

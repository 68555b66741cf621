import { Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiForbiddenResponse,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Config } from '../../config';
import { joinOrStartRun } from '../../clients/join-run';
import { dailyRunTriggers, type PipelineRegistry } from '../../pipelines';
import { CurrentActor, RequireRole, type Actor } from '../auth/roles';
import { StartsRuns } from '../auth/starts-runs';
import { CONFIG, PIPELINES } from '../config.token';
import { TemporalService } from '../temporal/temporal.service';
import { ArrivalDto, ArrivalResultDto, ParameterDto, PipelineDto, PipelineSummaryDto } from './pipeline.dto';

@ApiTags('pipelines')
@ApiBearerAuth()
@RequireRole('viewer')
@ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token' })
@ApiForbiddenResponse({ description: "The token's role does not allow this" })
@ApiTooManyRequestsResponse({ description: 'Rate limit (API_RATE_LIMIT, API_START_RATE_LIMIT) reached' })
@ApiExtraModels(ParameterDto)
@Controller('pipelines')
export class PipelinesController {
  constructor(
    @Inject(PIPELINES) private readonly pipelines: PipelineRegistry,
    private readonly temporal: TemporalService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

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

  /**
   * Data for a day arrived (a sensor's readings landed at `<date>/<sensor_id>`): the run of that day
   * takes it in, or starts (signal-with-start on `<pipeline>/<date>`, so never two runs of one day).
   */
  @Post(':name/arrivals')
  // It may start the day's run, but only with the pipeline's defaults: an operator's, not an admin's.
  @RequireRole('operator')
  @StartsRuns()
  @HttpCode(200)
  @ApiOkResponse({ type: ArrivalResultDto })
  @ApiNotFoundResponse({ description: 'No pipeline has that name, or it has no daily runs' })
  @ApiBadRequestResponse({ description: 'The body is invalid (naming the field)' })
  async arrival(
    @Param('name') name: string,
    @Body() body: ArrivalDto,
    @CurrentActor() actor: Actor,
  ): Promise<ArrivalResultDto> {
    if (!this.pipelines.has(name))
      throw new NotFoundException(
        `unknown pipeline ${name}; known: ${[...this.pipelines.keys()].join(', ')}`,
      );
    const trigger = dailyRunTriggers.get(name);
    // No arrivals resource for it: 404 (the request itself is well formed).
    if (!trigger) throw new NotFoundException(`pipeline ${name} has no daily runs to take arrivals in`);
    return await joinOrStartRun(await this.temporal.client(), {
      pipeline: name,
      runKey: body.date,
      cutoff: body.date,
      rerunFrom: trigger.rerunFrom,
      reason: `arrived: ${body.item}`,
      taskQueue: this.config.TEMPORAL_TASK_QUEUE,
      startedBy: actor.name,
    });
  }
}

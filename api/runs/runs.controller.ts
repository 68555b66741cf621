import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTooManyRequestsResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import type { RunStatus } from '../../workflows/definitions';
import {
  ApproveDto,
  CreateRunDto,
  ListRunsQuery,
  PlanDto,
  ReasonDto,
  RunDto,
  RunListItemDto,
  StartedRunDto,
} from './run.dto';
import { CurrentActor, RequireRole, type Actor } from '../auth/roles';
import { StartsRuns } from '../auth/starts-runs';
import { RunsService } from './runs.service';

const RUN_ID = {
  name: 'id',
  description: 'Workflow id `<pipeline>/<runKey>`, URL-encoded (`visits-scaling%2F2026q4`)',
};
const STEP = { name: 'step', example: 'quality.train' };
const ITEM = {
  name: 'item',
  description:
    "The map item: its index (status `map.failedItems[].index`), or a string item's value, or an item's JSON; URL-encoded (`sensor%2F7`, `%7B%22id%22%3A%22a%22%7D`). A string of digits is an index.",
  example: '3',
};
const STATUS_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  description: 'The run status after the action',
} as const;

@ApiTags('runs')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token' })
@ApiForbiddenResponse({ description: "The token's role does not allow this" })
@ApiTooManyRequestsResponse({ description: 'Rate limit (API_RATE_LIMIT, API_START_RATE_LIMIT) reached' })
@ApiExtraModels(StartedRunDto, PlanDto)
@Controller('runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Post()
  @RequireRole('operator')
  @StartsRuns()
  @ApiOperation({
    summary: 'Start a run (or return the existing one with the same key), or plan it (dryRun)',
    description: 'A dry run needs the operator role, a start admin; privileged parameters need admin.',
  })
  @ApiCreatedResponse({ description: 'Started', schema: { $ref: getSchemaPath(StartedRunDto) } })
  @ApiOkResponse({
    description: 'The existing run, or the plan of a dry run',
    schema: { oneOf: [{ $ref: getSchemaPath(StartedRunDto) }, { $ref: getSchemaPath(PlanDto) }] },
  })
  @ApiBadRequestResponse({ description: 'Invalid body, unknown pipeline or step, bad params' })
  @ApiNotFoundResponse({ description: 'reuseRunId names no run' })
  async start(
    @Body() dto: CreateRunDto,
    @CurrentActor() actor: Actor,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<StartedRunDto | PlanDto> {
    const result = await this.runs.start(dto, actor);
    response.statusCode = 'existing' in result && !result.existing ? 201 : 200;
    return result;
  }

  @Get()
  @RequireRole('viewer')
  @ApiOkResponse({ type: [RunListItemDto] })
  @ApiBadRequestResponse({ description: 'Invalid filter (unknown pipeline, state, date, limit)' })
  list(@Query() query: ListRunsQuery): Promise<RunListItemDto[]> {
    return this.runs.list(query);
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: RunDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<RunDto> {
    return this.runs.get(id);
  }

  @Post(':id/steps/:step/mark-succeeded')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiParam(STEP)
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiBadRequestResponse({ description: 'Invalid body (reason: a string of at most 1,000 characters)' })
  @ApiNotFoundResponse({ description: 'Unknown run or step' })
  @ApiConflictResponse({ description: 'The step is not in a state this action fits' })
  markSucceeded(
    @Param('id') id: string,
    @Param('step') step: string,
    @Body() dto: ReasonDto,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.act(id, 'markSucceeded', step, actor, dto.reason);
  }

  @Post(':id/steps/:step/retry')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiParam(STEP)
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiNotFoundResponse({ description: 'Unknown run or step' })
  @ApiConflictResponse({ description: 'The step is not failed or waiting' })
  retry(
    @Param('id') id: string,
    @Param('step') step: string,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.act(id, 'retryStep', step, actor);
  }

  @Post(':id/steps/:step/rerun')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiParam(STEP)
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiNotFoundResponse({ description: 'Unknown run or step' })
  @ApiConflictResponse({ description: 'The step has not run yet, or the run is finished' })
  rerun(
    @Param('id') id: string,
    @Param('step') step: string,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.act(id, 'rerunFrom', step, actor);
  }

  @Post(':id/steps/:step/items/:item/retry')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiParam(STEP)
  @ApiParam(ITEM)
  @ApiOperation({ summary: 'Run one failed item of a map step again' })
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiBadRequestResponse({ description: 'Several items have this value (name it by index)' })
  @ApiNotFoundResponse({ description: 'Unknown run, step or item (or the step is not a map step)' })
  @ApiConflictResponse({ description: 'The item has not failed, or the run is finished' })
  retryItem(
    @Param('id') id: string,
    @Param('step') step: string,
    @Param('item') item: string,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.actOnItem(id, 'retryItem', step, item, actor);
  }

  @Post(':id/steps/:step/items/:item/mark-succeeded')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiParam(STEP)
  @ApiParam(ITEM)
  @ApiOperation({ summary: 'Count one failed item of a map step as done, with the reason' })
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiBadRequestResponse({ description: 'Invalid body (reason), or several items have this value' })
  @ApiNotFoundResponse({ description: 'Unknown run, step or item (or the step is not a map step)' })
  @ApiConflictResponse({ description: 'The item has not failed, or the run is finished' })
  markItemSucceeded(
    @Param('id') id: string,
    @Param('step') step: string,
    @Param('item') item: string,
    @Body() dto: ReasonDto,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.actOnItem(id, 'markItemSucceeded', step, item, actor, dto.reason);
  }

  @Post(':id/approve')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiOperation({ summary: 'Approve the step waiting for approval (name it when several wait)' })
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiBadRequestResponse({ description: 'Several steps wait for approval and none was named' })
  @ApiNotFoundResponse({ description: 'Unknown run or step' })
  @ApiConflictResponse({ description: 'No such step is waiting for approval' })
  approve(
    @Param('id') id: string,
    @Body() dto: ApproveDto,
    @CurrentActor() actor: Actor,
  ): Promise<RunStatus> {
    return this.runs.approve(id, dto.step, actor);
  }

  @Post(':id/abort')
  @RequireRole('operator')
  @HttpCode(200)
  @ApiParam(RUN_ID)
  @ApiOkResponse({ schema: STATUS_SCHEMA })
  @ApiBadRequestResponse({ description: 'Invalid body (reason: a string of at most 1,000 characters)' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The run is already finished' })
  abort(@Param('id') id: string, @Body() dto: ReasonDto, @CurrentActor() actor: Actor): Promise<RunStatus> {
    return this.runs.abort(id, dto.reason, actor);
  }
}

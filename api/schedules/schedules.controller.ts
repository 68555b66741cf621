import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiTooManyRequestsResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { BackfillDto, CreateScheduleDto, NoteDto, ScheduleDto, UpdateScheduleDto } from './schedule.dto';
import { CurrentActor, RequireRole, type Actor } from '../auth/roles';
import { StartsRuns } from '../auth/starts-runs';
import { SchedulesService } from './schedules.service';

@ApiTags('schedules')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token' })
@ApiForbiddenResponse({ description: "The token's role does not allow this (changes need admin)" })
@ApiTooManyRequestsResponse({ description: 'Rate limit (API_RATE_LIMIT, API_START_RATE_LIMIT) reached' })
@RequireRole('admin')
@Controller('schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @RequireRole('viewer')
  @ApiOkResponse({ type: [ScheduleDto] })
  list(): Promise<ScheduleDto[]> {
    return this.schedules.list();
  }

  @Post()
  @ApiCreatedResponse({ type: ScheduleDto })
  @ApiBadRequestResponse({ description: 'Invalid body, unknown pipeline, bad params or cron' })
  @ApiConflictResponse({ description: 'A schedule with that id exists' })
  create(@Body() dto: CreateScheduleDto, @CurrentActor() actor: Actor): Promise<ScheduleDto> {
    return this.schedules.create(dto, actor);
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOkResponse({ type: ScheduleDto })
  @ApiNotFoundResponse()
  get(@Param('id') id: string): Promise<ScheduleDto> {
    return this.schedules.get(id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: ScheduleDto })
  @ApiNotFoundResponse()
  update(
    @Param('id') id: string,
    @Body() dto: UpdateScheduleDto,
    @CurrentActor() actor: Actor,
  ): Promise<ScheduleDto> {
    return this.schedules.update(id, dto, actor);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  async remove(@Param('id') id: string): Promise<void> {
    await this.schedules.remove(id);
  }

  @Post(':id/trigger')
  @StartsRuns()
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'A run was started now' })
  @ApiNotFoundResponse()
  async trigger(@Param('id') id: string): Promise<void> {
    await this.schedules.trigger(id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOkResponse({ type: ScheduleDto })
  pause(@Param('id') id: string, @Body() dto: NoteDto): Promise<ScheduleDto> {
    return this.schedules.pause(id, dto.note);
  }

  @Post(':id/unpause')
  @HttpCode(200)
  @ApiOkResponse({ type: ScheduleDto })
  unpause(@Param('id') id: string, @Body() dto: NoteDto): Promise<ScheduleDto> {
    return this.schedules.unpause(id, dto.note);
  }

  @Post(':id/backfill')
  @StartsRuns()
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'Backfill accepted: one run per nominal time in the window' })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse()
  async backfill(@Param('id') id: string, @Body() dto: BackfillDto): Promise<void> {
    await this.schedules.backfill(id, dto);
  }
}

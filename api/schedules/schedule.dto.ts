import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsDateString,
  IsIn,
  IsObject,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { AsParsed, CRON_PATTERN, Optional, TIME_ZONES } from '../validation';

const OVERLAP = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const;
const BACKFILL_OVERLAP = ['ALLOW_ALL', 'BUFFER_ALL'] as const;
const SCHEDULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CRON_MESSAGE =
  'cron: each must be five fields (minute hour day-of-month month day-of-week) of numbers in range, *, ranges, lists and /steps';
const CRON_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: 10,
  items: { type: 'string', pattern: CRON_PATTERN.source },
  example: ['0 6 1 1,4,7,10 *'],
  description: 'Cron expressions (UTC unless timezone)',
} as const;
const TIME_ZONE_SCHEMA = { example: 'Europe/Madrid', enum: TIME_ZONES as string[] } as const;

export class CreateScheduleDto {
  @ApiProperty({
    example: 'visits-scaling-quarterly',
    pattern: SCHEDULE_ID.source,
    description: 'Schedule id: lowercase letters, digits, dashes',
  })
  @Matches(SCHEDULE_ID, {
    message: 'id must be lowercase letters, digits and dashes (at most 63)',
  })
  id!: string;

  @ApiProperty({ example: 'visits-scaling' })
  @IsString()
  pipeline!: string;

  @ApiProperty(CRON_SCHEMA)
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(10)
  @Matches(CRON_PATTERN, { each: true, message: CRON_MESSAGE })
  cron!: string[];

  @ApiPropertyOptional(TIME_ZONE_SCHEMA)
  @Optional()
  @IsIn(TIME_ZONES, { message: 'timezone must be an IANA time zone such as Europe/Madrid' })
  timezone?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Run parameters, checked against the pipeline',
  })
  @Optional()
  @IsObject()
  @AsParsed()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({
    enum: OVERLAP,
    default: 'BUFFER_ONE',
    description: 'What to do when a run is still going at the next time (default: queue one run)',
  })
  @Optional()
  @IsIn(OVERLAP)
  overlap?: (typeof OVERLAP)[number];

  @ApiPropertyOptional({ default: false })
  @Optional()
  @IsBoolean()
  paused?: boolean;

  @ApiPropertyOptional({ maxLength: 500 })
  @Optional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class UpdateScheduleDto {
  @ApiPropertyOptional(CRON_SCHEMA)
  @Optional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(10)
  @Matches(CRON_PATTERN, { each: true, message: CRON_MESSAGE })
  cron?: string[];

  @ApiPropertyOptional(TIME_ZONE_SCHEMA)
  @Optional()
  @IsIn(TIME_ZONES, { message: 'timezone must be an IANA time zone such as Europe/Madrid' })
  timezone?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @Optional()
  @IsObject()
  @AsParsed()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({ enum: OVERLAP })
  @Optional()
  @IsIn(OVERLAP)
  overlap?: (typeof OVERLAP)[number];
}

export class NoteDto {
  @ApiPropertyOptional({ maxLength: 500, description: 'Why (kept on the schedule and shown in the Web UI)' })
  @Optional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class BackfillDto {
  @ApiProperty({
    format: 'date-time',
    example: '2026-01-01T00:00:00Z',
    description: 'Start of the window (inclusive)',
  })
  @IsDateString({ strict: true })
  start!: string;

  @ApiProperty({
    format: 'date-time',
    example: '2026-07-02T00:00:00Z',
    description: 'End of the window, after start; at most API_BACKFILL_MAX_RUNS runs in it',
  })
  @IsDateString({ strict: true })
  end!: string;

  @ApiPropertyOptional({
    enum: BACKFILL_OVERLAP,
    default: 'ALLOW_ALL',
    description: 'Backfilled runs side by side (ALLOW_ALL) or one after another (BUFFER_ALL); never dropped',
  })
  @Optional()
  // The others are refused by the service, naming why (they would skip or cancel backfilled runs).
  @IsIn(OVERLAP)
  overlap?: (typeof OVERLAP)[number];
}

export class ScheduleDto {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  pipeline!: string;

  @ApiProperty({ type: [String] })
  cron!: string[];

  @ApiPropertyOptional()
  timezone?: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  params!: Record<string, unknown>;

  @ApiProperty()
  paused!: boolean;

  @ApiPropertyOptional()
  note?: string;

  @ApiProperty({ enum: OVERLAP, description: 'What happens when a run is still going at the next time' })
  overlap!: (typeof OVERLAP)[number];

  @ApiProperty({ type: [String], description: 'Next nominal times (ISO)' })
  nextRuns!: string[];

  @ApiProperty({ type: [String], description: 'Workflow ids of the most recent runs it started' })
  recentRuns!: string[];
}

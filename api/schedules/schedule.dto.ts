import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsDateString,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';

const OVERLAP = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const;

export class CreateScheduleDto {
  @ApiProperty({
    example: 'visits-scaling-quarterly',
    description: 'Schedule id: lowercase letters, digits, dashes',
  })
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    message: 'id must be lowercase letters, digits and dashes (at most 63)',
  })
  id!: string;

  @ApiProperty({ example: 'visits-scaling' })
  @IsString()
  pipeline!: string;

  @ApiProperty({
    type: [String],
    example: ['0 6 1 1,4,7,10 *'],
    description: 'Cron expressions (UTC unless timezone)',
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(10)
  @IsString({ each: true })
  cron!: string[];

  @ApiPropertyOptional({ example: 'Europe/Madrid' })
  @IsOptional()
  @IsString()
  timezone?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Run parameters, checked against the pipeline',
  })
  @IsOptional()
  @IsObject()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({
    enum: OVERLAP,
    default: 'BUFFER_ONE',
    description: 'What to do when a run is still going at the next time (default: queue one run)',
  })
  @IsOptional()
  @IsIn(OVERLAP)
  overlap?: (typeof OVERLAP)[number];

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  paused?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class UpdateScheduleDto {
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(10)
  @IsString({ each: true })
  cron?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  timezone?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({ enum: OVERLAP })
  @IsOptional()
  @IsIn(OVERLAP)
  overlap?: (typeof OVERLAP)[number];
}

export class NoteDto {
  @ApiPropertyOptional({ description: 'Why (kept on the schedule and shown in the Web UI)' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class BackfillDto {
  @ApiProperty({ example: '2026-01-01T00:00:00Z', description: 'Start of the window (inclusive)' })
  @IsDateString({ strict: true })
  start!: string;

  @ApiProperty({ example: '2026-07-02T00:00:00Z', description: 'End of the window' })
  @IsDateString({ strict: true })
  end!: string;

  @ApiPropertyOptional({
    enum: ['ALLOW_ALL', 'BUFFER_ALL'],
    default: 'ALLOW_ALL',
    description: 'Backfilled runs side by side (ALLOW_ALL) or one after another (BUFFER_ALL); never dropped',
  })
  @IsOptional()
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

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Matches,
  Max,
  MaxLength,
  MinLength,
  Min,
} from 'class-validator';
import { AsParsed, DAY_PATTERN, IsDay, Optional } from '../validation';

const RUN_KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
/** A day in the OpenAPI document: what IsDay accepts. */
export const DAY_SCHEMA = { type: 'string', format: 'date', pattern: DAY_PATTERN.source } as const;
const RUN_STATES = ['planning', 'running', 'waiting', 'succeeded', 'failed', 'aborted'] as const;

export class CreateRunDto {
  @ApiProperty({ example: 'visits-scaling' })
  @IsString()
  pipeline!: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { visits_share_vm_template: 'cpu-python-template-prod' },
  })
  @Optional()
  @IsObject()
  @AsParsed()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({
    example: '2026q4',
    pattern: RUN_KEY.source,
    description: 'The run is `<pipeline>/<runKey>`; the same key twice returns the existing run',
  })
  @Optional()
  @Matches(RUN_KEY, {
    message: 'runKey must be letters, digits, . _ : - (at most 100)',
  })
  runKey?: string;

  @ApiPropertyOptional({ ...DAY_SCHEMA, example: '2026-10-01', description: 'Data cutoff; default: today' })
  @Optional()
  @IsDay()
  cutoff?: string;

  @ApiPropertyOptional({
    example: 'quality.data',
    minLength: 1,
    maxLength: 200,
    description: 'Recompute this step and its downstream; take the rest from reuseRunId (required with it)',
  })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  from?: string;

  @ApiPropertyOptional({
    example: 'visits-scaling/2026q3',
    minLength: 1,
    maxLength: 300,
    description: 'The earlier run whose outputs are reused (required with from; 404 when there is none)',
  })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(300)
  reuseRunId?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    default: 200,
    description: 'At most this many steps (and map batches) of the run execute at once',
  })
  @Optional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxParallel?: number;

  @ApiPropertyOptional({ default: false, description: 'Return the plan without starting anything' })
  @Optional()
  @IsBoolean()
  dryRun?: boolean;
}

export class ListRunsQuery {
  @ApiPropertyOptional({ description: 'A pipeline of the catalog' })
  @Optional()
  @IsString()
  pipeline?: string;

  @ApiPropertyOptional({ enum: RUN_STATES })
  @Optional()
  @IsIn(RUN_STATES)
  state?: (typeof RUN_STATES)[number];

  @ApiPropertyOptional({ ...DAY_SCHEMA, example: '2026-10-01', description: 'Started on or after this date' })
  @Optional()
  @IsDay()
  since?: string;

  @ApiPropertyOptional({
    ...DAY_SCHEMA,
    example: '2026-12-31',
    description: 'Started before the end of this date',
  })
  @Optional()
  @IsDay()
  until?: string;

  @ApiPropertyOptional({ type: 'integer', default: 50, minimum: 1, maximum: 500 })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class ReasonDto {
  @ApiProperty({ example: 'checked the model by hand', maxLength: 1000 })
  @IsString()
  @MaxLength(1000)
  reason!: string;
}

export class ApproveDto {
  @ApiPropertyOptional({
    example: 'promote',
    maxLength: 200,
    description: 'Default: the one step waiting for approval',
  })
  @Optional()
  @IsString()
  @MaxLength(200)
  step?: string;
}

export class StartedRunDto {
  @ApiProperty({ example: 'visits-scaling/2026q4' })
  workflowId!: string;

  @ApiProperty()
  runId!: string;

  @ApiProperty({ description: 'True when a run with this key existed already (nothing new was started)' })
  existing!: boolean;

  @ApiProperty()
  webUiUrl!: string;
}

export class RunListItemDto {
  @ApiProperty()
  workflowId!: string;

  @ApiProperty()
  runId!: string;

  @ApiPropertyOptional()
  pipeline?: string;

  @ApiPropertyOptional({ enum: RUN_STATES })
  state?: string;

  @ApiProperty({ example: 'RUNNING', description: "Temporal's execution status" })
  status!: string;

  @ApiProperty()
  startTime!: string;

  @ApiPropertyOptional()
  closeTime?: string;
}

export class TrainingProgressDto {
  @ApiProperty({ description: 'Workflow that runs the activity (the run, or its trainOnVm child)' })
  workflowId!: string;

  @ApiProperty({ example: 'monitorTraining' })
  activity!: string;

  @ApiProperty()
  attempt!: number;

  @ApiPropertyOptional()
  lastHeartbeat?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'The latest heartbeat details (step, loss, elapsed…)',
  })
  details?: unknown;
}

export class RunDto {
  @ApiProperty()
  workflowId!: string;

  @ApiProperty()
  runId!: string;

  @ApiProperty({ example: 'RUNNING' })
  status!: string;

  @ApiProperty()
  webUiUrl!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The status query: plan, step states, rejected signals',
  })
  run!: Record<string, unknown>;

  @ApiProperty({ type: [TrainingProgressDto] })
  progress!: TrainingProgressDto[];
}

export class PlanDto {
  @ApiProperty({ type: 'object', additionalProperties: true })
  plan!: Record<string, unknown>;
}

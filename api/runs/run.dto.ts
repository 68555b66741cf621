import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
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
  @IsOptional()
  @IsObject()
  params?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({
    example: '2026q4',
    description: 'The run is `<pipeline>/<runKey>`; the same key twice returns the existing run',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, {
    message: 'runKey must be letters, digits, . _ : - (at most 100)',
  })
  runKey?: string;

  @ApiPropertyOptional({ example: '2026-10-01', description: 'Data cutoff; default: today' })
  @IsOptional()
  @Matches(DATE, { message: 'cutoff must be a date YYYY-MM-DD' })
  cutoff?: string;

  @ApiPropertyOptional({
    example: 'quality.data',
    description: 'Recompute this step and its downstream; take the rest from reuseRunId',
  })
  @IsOptional()
  @IsString()
  from?: string;

  @ApiPropertyOptional({
    example: 'visits-scaling/2026q3',
    description: 'The earlier run whose outputs are reused',
  })
  @IsOptional()
  @IsString()
  reuseRunId?: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 1000,
    default: 200,
    description: 'At most this many steps (and map batches) of the run execute at once',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxParallel?: number;

  @ApiPropertyOptional({ default: false, description: 'Return the plan without starting anything' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class ListRunsQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  pipeline?: string;

  @ApiPropertyOptional({ enum: RUN_STATES })
  @IsOptional()
  @IsIn(RUN_STATES)
  state?: (typeof RUN_STATES)[number];

  @ApiPropertyOptional({ example: '2026-10-01', description: 'Started on or after this date' })
  @IsOptional()
  @Matches(DATE, { message: 'since must be a date YYYY-MM-DD' })
  since?: string;

  @ApiPropertyOptional({ example: '2026-12-31', description: 'Started before the end of this date' })
  @IsOptional()
  @Matches(DATE, { message: 'until must be a date YYYY-MM-DD' })
  until?: string;

  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class ReasonDto {
  @ApiProperty({ example: 'checked the model by hand' })
  @IsString()
  @MaxLength(1000)
  reason!: string;
}

export class ApproveDto {
  @ApiPropertyOptional({ example: 'promote', description: 'Default: the one step waiting for approval' })
  @IsOptional()
  @IsString()
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

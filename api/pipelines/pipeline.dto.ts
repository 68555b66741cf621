import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { DAY_SCHEMA } from '../runs/run.dto';
import { IsDay } from '../validation';

export class ParameterDto {
  @ApiProperty({ enum: ['string', 'number', 'boolean', 'date'] })
  type!: string;

  @ApiPropertyOptional({
    description: 'Absent: the parameter is required',
    oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }],
  })
  default?: string | number | boolean | null;

  @ApiPropertyOptional()
  description?: string;

  @ApiPropertyOptional({ type: 'array', items: {} })
  choices?: (string | number | boolean | null)[];

  @ApiPropertyOptional({ description: 'Number parameters: the smallest allowed value' })
  min?: number;

  @ApiPropertyOptional({ description: 'Number parameters: the largest allowed value' })
  max?: number;

  @ApiPropertyOptional({
    enum: ['dataset', 'instance', 'machine-type', 'accelerator', 'models-repo'],
    description: 'The parameter names an outside resource; its value must be allow-listed by the worker',
  })
  resource?: string;

  @ApiPropertyOptional({ description: 'Setting it needs the admin role (it weakens a safety check)' })
  privileged?: boolean;
}

export class PipelineStepDto {
  @ApiProperty({ example: 'quality.train' })
  id!: string;

  @ApiProperty({ type: [String] })
  after!: string[];

  @ApiProperty({ example: 'train' })
  kind!: string;

  @ApiProperty()
  version!: string;

  @ApiProperty()
  cache!: boolean;

  @ApiProperty({
    description: 'true, false, or a `{{param}}` template decided at run time',
    oneOf: [{ type: 'boolean' }, { type: 'string' }],
  })
  approval!: boolean | string;

  @ApiProperty({ enum: ['fail', 'wait'] })
  onFailure!: string;

  @ApiProperty({ type: [String] })
  outputs!: string[];

  @ApiPropertyOptional()
  description?: string;
}

export class PipelineSummaryDto {
  @ApiProperty({ example: 'visits-scaling' })
  name!: string;

  @ApiPropertyOptional()
  description?: string;

  @ApiProperty()
  steps!: number;
}

export class PipelineDto {
  @ApiProperty()
  name!: string;

  @ApiPropertyOptional()
  description?: string;

  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ParameterDto' } })
  parameters!: Record<string, ParameterDto>;

  @ApiProperty({ type: [PipelineStepDto], description: 'The DAG: each step with the steps it runs after' })
  steps!: PipelineStepDto[];
}

export class ArrivalDto {
  @ApiProperty({ ...DAY_SCHEMA, example: '2026-11-03', description: 'the day the data is for (the run key)' })
  @IsDay()
  date!: string;

  @ApiProperty({
    example: 'hive-007',
    maxLength: 200,
    description: 'what arrived (a sensor id), kept in the run’s audit trail',
  })
  @IsString()
  @MaxLength(200)
  item!: string;
}

export class ArrivalResultDto {
  @ApiProperty({ example: 'sensor-clustering/2026-11-03' })
  workflowId!: string;

  @ApiProperty({ description: 'the run that took the arrival in (a new one when none was running)' })
  runId!: string;
}

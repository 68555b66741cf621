import { BadRequestException, Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config';
import type { Plan } from '../../pipelines/core/types';
import { RunnerErrorType, type RunPipelineInput } from '../../workflows/definitions';
import { CONFIG } from '../config.token';
import { TemporalService } from '../temporal/temporal.service';
import { PLAN_PIPELINE_WORKFLOW } from './run-pipeline.ref';

const PLAN_FAILURES = new Set<string>(Object.values(RunnerErrorType));

/**
 * Plans runs by asking the worker (the short `planPipeline` workflow runs the plan activity), so
 * dry runs and the checks before a start (parameters, allow-lists, cost ceiling, model repositories)
 * are the worker's own, and the API process runs no git and holds no warehouse credentials.
 */
@Injectable()
export class PlannerService {
  constructor(
    private readonly temporal: TemporalService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** The plan, or 400 with the plan's own message (it names the field), or 503 when no worker answers. */
  async plan(input: RunPipelineInput, workflowId: string): Promise<Plan> {
    const client = await this.temporal.client();
    try {
      return (await client.workflow.execute(PLAN_PIPELINE_WORKFLOW, {
        workflowId: `plan/${input.pipeline}/${randomUUID()}`,
        taskQueue: this.config.TEMPORAL_TASK_QUEUE,
        args: [{ ...input, workflowId, startTime: new Date().toISOString() }],
        workflowExecutionTimeout: `${this.config.API_PLAN_TIMEOUT_SECONDS} seconds`,
      })) as Plan;
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      let cause: unknown = error.cause;
      while (
        cause instanceof Error &&
        !(cause instanceof ApplicationFailure) &&
        !(cause instanceof TimeoutFailure)
      )
        cause = (cause as { cause?: unknown }).cause;
      if (cause instanceof ApplicationFailure && cause.type && PLAN_FAILURES.has(cause.type))
        throw new BadRequestException(cause.message);
      if (cause instanceof TimeoutFailure || error.cause instanceof TimeoutFailure)
        throw new ServiceUnavailableException(
          `no worker planned the run within ${this.config.API_PLAN_TIMEOUT_SECONDS} s; is a worker running?`,
        );
      throw new ServiceUnavailableException('the worker could not plan the run; see its log');
    }
  }
}

import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { Config } from '../../config';
import { runUiUrl } from '../../config/links';
import type { PipelineRegistry } from '../../pipelines';
import { hasRole, type Actor } from '../auth/roles';
import { checkRunParameters } from './run-parameters';
import {
  abortRunUpdate,
  ActionRejectionType,
  approveUpdate,
  markItemSucceededUpdate,
  markSucceededUpdate,
  rerunFromUpdate,
  retryItemUpdate,
  retryStepUpdate,
  RUN_SUMMARY_MEMO,
  runWorkflowId,
  statusQuery,
  type RunPipelineInput,
  type RunStatus,
  type RunSummary,
} from '../../workflows/definitions';
import { CONFIG, PIPELINES } from '../config.token';
import { TemporalService } from '../temporal/temporal.service';
import { PlannerService } from './planner.service';
import type {
  CreateRunDto,
  ListRunsQuery,
  PlanDto,
  RunDto,
  RunListItemDto,
  StartedRunDto,
  TrainingProgressDto,
} from './run.dto';
import { RUN_PIPELINE_WORKFLOW } from './run-pipeline.ref';

export type OperatorAction = 'markSucceeded' | 'retryStep' | 'rerunFrom' | 'approve';
export type ItemAction = 'retryItem' | 'markItemSucceeded';

const updates = {
  markSucceeded: markSucceededUpdate,
  retryStep: retryStepUpdate,
  rerunFrom: rerunFromUpdate,
  approve: approveUpdate,
  abortRun: abortRunUpdate,
  retryItem: retryItemUpdate,
  markItemSucceeded: markItemSucceededUpdate,
} as const;

/** Runs of runPipeline: start (or dry run), list, show with live progress, and operator actions. */
@Injectable()
export class RunsService {
  constructor(
    private readonly temporal: TemporalService,
    private readonly planner: PlannerService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PIPELINES) private readonly pipelines: PipelineRegistry,
  ) {}

  async start(dto: CreateRunDto, actor: Actor): Promise<StartedRunDto | PlanDto> {
    if (!dto.dryRun && !hasRole(actor.role, 'admin'))
      throw new ForbiddenException(`token ${actor.name} has role ${actor.role}; starting a run needs admin`);
    const input = { ...this.validateInput(dto, actor), startedBy: actor.name };
    const workflowId = runWorkflowId(
      dto.pipeline,
      dto.runKey ?? `manual-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    );
    if (dto.reuseRunId) await this.summaryOf(dto.reuseRunId, 'reuseRunId');
    // The worker plans it (a dry run's answer, or the checks before a start): 400 naming the field.
    const plan = await this.planner.plan(input, workflowId);
    if (dto.dryRun) return { plan: plan as unknown as Record<string, unknown> };
    const client = await this.temporal.client();
    try {
      const handle = await client.workflow.start(RUN_PIPELINE_WORKFLOW, {
        workflowId,
        taskQueue: this.config.TEMPORAL_TASK_QUEUE,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return {
        workflowId,
        runId: handle.firstExecutionRunId,
        existing: false,
        webUiUrl: runUiUrl(this.config, workflowId),
      };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const existing = await client.workflow.getHandle(workflowId).describe();
      return {
        workflowId,
        runId: existing.runId,
        existing: true,
        webUiUrl: runUiUrl(this.config, workflowId),
      };
    }
  }

  async list(query: ListRunsQuery): Promise<RunListItemDto[]> {
    const clauses = [`WorkflowType = '${RUN_PIPELINE_WORKFLOW}'`];
    // Every value is validated (a catalog name, an enum, dates), so none can change the query's meaning.
    if (query.pipeline) {
      if (!this.pipelines.has(query.pipeline))
        throw new BadRequestException(
          `pipeline: unknown pipeline ${query.pipeline}; known: ${[...this.pipelines.keys()].join(', ')}`,
        );
      clauses.push(`Pipeline = '${query.pipeline}'`);
    }
    if (query.state) clauses.push(`RunState = '${query.state}'`);
    if (query.since) clauses.push(`StartTime >= '${query.since}T00:00:00Z'`);
    if (query.until) clauses.push(`StartTime < '${nextDay(query.until)}T00:00:00Z'`);
    const client = await this.temporal.client();
    const runs: RunListItemDto[] = [];
    for await (const execution of client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: query.limit ?? 50,
    })) {
      const attributes = execution.typedSearchAttributes;
      runs.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        pipeline: attributes.getAll().find((pair) => pair.key.name === 'Pipeline')?.value as
          string | undefined,
        state: attributes.getAll().find((pair) => pair.key.name === 'RunState')?.value as string | undefined,
        status: execution.status.name,
        startTime: execution.startTime.toISOString(),
        closeTime: execution.closeTime?.toISOString(),
      });
      if (runs.length >= (query.limit ?? 50)) break;
    }
    return runs;
  }

  async get(workflowId: string): Promise<RunDto> {
    const handle = await this.handle(workflowId);
    const description = await this.describe(handle);
    const run = await this.status(handle);
    return {
      workflowId,
      runId: description.runId,
      status: description.status.name,
      webUiUrl: runUiUrl(this.config, workflowId),
      run: run as unknown as Record<string, unknown>,
      progress: await this.progress(workflowId, description.raw),
    };
  }

  /**
   * An operator action as a Workflow Update: the workflow's validator accepts or rejects it at once
   * (404 unknown step, 409 with its reason), and an accepted one records the token's name.
   */
  async act(
    workflowId: string,
    action: OperatorAction | ItemAction | 'abortRun',
    step: string | undefined,
    actor: Actor,
    reason?: string,
    item?: string,
  ): Promise<RunStatus> {
    const handle = await this.handle(workflowId);
    const description = await this.describe(handle);
    if (description.status.name !== 'RUNNING') {
      const state = (description.memo?.[RUN_SUMMARY_MEMO] as RunSummary | undefined)?.state;
      const ended = `run ${workflowId} has ended (${state ?? description.status.name.toLowerCase()})`;
      throw new ConflictException(
        step && action !== 'abortRun'
          ? `${ended}; start a new run with from=${step} and reuseRunId=${workflowId}`
          : ended,
      );
    }
    try {
      await handle.executeUpdate(updates[action], {
        args: [
          {
            ...(step ? { step } : {}),
            ...(item !== undefined ? { item } : {}),
            ...(reason !== undefined ? { reason } : {}),
            actor: actor.name,
          },
        ],
      });
    } catch (error) {
      throw rejection(error);
    }
    return await this.status(handle);
  }

  /**
   * An action on one item of a map step (`item`: its index, or the item's value or JSON, as the
   * URL carried it, decoded): 404 unknown item, 400 a value several items share, 409 not failed.
   */
  async actOnItem(
    workflowId: string,
    action: ItemAction,
    step: string,
    item: string,
    actor: Actor,
    reason?: string,
  ): Promise<RunStatus> {
    return await this.act(workflowId, action, step, actor, reason, item);
  }

  async approve(workflowId: string, step: string | undefined, actor: Actor): Promise<RunStatus> {
    return await this.act(workflowId, 'approve', step, actor);
  }

  async abort(workflowId: string, reason: string, actor: Actor): Promise<RunStatus> {
    return await this.act(workflowId, 'abortRun', undefined, actor, reason);
  }

  private validateInput(dto: CreateRunDto, actor: Actor): RunPipelineInput {
    const definition = checkRunParameters(this.pipelines, dto.pipeline, dto.params, actor);
    if (dto.from && !definition.steps.some((step) => step.id === dto.from)) {
      throw new BadRequestException(`from: pipeline ${dto.pipeline} has no step ${dto.from}`);
    }
    if (Boolean(dto.from) !== Boolean(dto.reuseRunId)) {
      throw new BadRequestException(
        dto.from ? 'reuseRunId: required with from' : 'from: required with reuseRunId',
      );
    }
    return {
      pipeline: dto.pipeline,
      params: dto.params,
      cutoff: dto.cutoff,
      from: dto.from,
      reuseRunId: dto.reuseRunId,
      ...(dto.maxParallel !== undefined ? { maxParallel: dto.maxParallel } : {}),
    };
  }

  private async summaryOf(workflowId: string, field: string): Promise<RunSummary | undefined> {
    const client = await this.temporal.client();
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      return description.memo?.[RUN_SUMMARY_MEMO] as RunSummary | undefined;
    } catch (error) {
      // The body is well formed; what it points at does not exist.
      if (error instanceof WorkflowNotFoundError)
        throw new NotFoundException(`${field}: no run ${workflowId}`);
      throw error;
    }
  }

  private async handle(workflowId: string): Promise<WorkflowHandle> {
    return (await this.temporal.client()).workflow.getHandle(workflowId);
  }

  private async describe(handle: WorkflowHandle) {
    try {
      return await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new NotFoundException(`unknown run ${handle.workflowId}`);
      throw error;
    }
  }

  /** The live status query; for a closed run without a worker to answer, its memo summary. */
  private async status(handle: WorkflowHandle): Promise<RunStatus> {
    try {
      return await handle.query(statusQuery);
    } catch (error) {
      const summary = (await handle.describe()).memo?.[RUN_SUMMARY_MEMO] as RunSummary | undefined;
      if (!summary)
        throw new ConflictException(
          `run ${handle.workflowId} cannot be queried now: ${(error as Error).message}`,
        );
      return {
        pipeline: summary.pipeline,
        workflowId: summary.workflowId,
        state: summary.state,
        params: summary.params,
        cutoff: summary.cutoff,
        steps: Object.entries(summary.steps).map(([id, step]) => ({
          id,
          after: [],
          kind: '',
          attempts: 0,
          ...step,
        })),
        rejectedSignals: [],
        operatorActions: [],
      };
    }
  }

  /** Heartbeat details of the run's pending activities and of its children's (trainOnVm monitors). */
  private async progress(
    workflowId: string,
    raw: temporal.api.workflowservice.v1.IDescribeWorkflowExecutionResponse,
    depth = 0,
  ): Promise<TrainingProgressDto[]> {
    const own = (raw.pendingActivities ?? []).map((activity) => ({
      workflowId,
      activity: activity.activityType?.name ?? '',
      attempt: activity.attempt ?? 1,
      lastHeartbeat: activity.lastHeartbeatTime?.seconds
        ? new Date(Number(activity.lastHeartbeatTime.seconds) * 1000).toISOString()
        : undefined,
      details: activity.heartbeatDetails?.payloads?.length
        ? defaultPayloadConverter.fromPayload(
            activity.heartbeatDetails.payloads[activity.heartbeatDetails.payloads.length - 1]!,
          )
        : undefined,
    }));
    if (depth > 2) return own;
    const children = await Promise.all(
      (raw.pendingChildren ?? []).map(async (child) => {
        if (!child.workflowId) return [];
        const description = await (await this.handle(child.workflowId)).describe().catch(() => undefined);
        return description ? await this.progress(child.workflowId, description.raw, depth + 1) : [];
      }),
    );
    return [...own, ...children.flat()];
  }
}

/** The workflow's verdict on a rejected Update, as the HTTP answer. */
function rejection(error: unknown): Error {
  if (error instanceof WorkflowNotFoundError) return new ConflictException('the run has ended');
  if (!(error instanceof WorkflowUpdateFailedError)) return error as Error;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure)) return new ConflictException(cause?.message ?? error.message);
  if (cause.type === ActionRejectionType.UnknownStep) return new NotFoundException(cause.message);
  if (cause.type === ActionRejectionType.UnknownItem) return new NotFoundException(cause.message);
  if (cause.type === ActionRejectionType.AmbiguousStep || cause.type === ActionRejectionType.AmbiguousItem)
    return new BadRequestException(cause.message);
  return new ConflictException(cause.message);
}

function nextDay(date: string): string {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString().slice(0, 10);
}

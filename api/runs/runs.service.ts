import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { resolvePlan } from '../../activities/plan';
import { runUiUrl } from '../../activities/notify';
import { stepKinds } from '../../workers/kinds';
import type { Config } from '../../config';
import { ParameterError, resolveParameters, type PipelineRegistry } from '../../pipelines';
import {
  abortRunSignal,
  approveSignal,
  markSucceededSignal,
  rerunFromSignal,
  retryStepSignal,
  RUN_SUMMARY_MEMO,
  runWorkflowId,
  statusQuery,
  type RunPipelineInput,
  type RunStatus,
  type RunSummary,
} from '../../workflows/definitions';
import { CONFIG, PIPELINES } from '../config.token';
import { TemporalService } from '../temporal/temporal.service';
import {
  checkAbort,
  checkStepAction,
  newestSignal,
  signalCount,
  type ActionCheck,
  type OperatorAction,
} from './action-rules';
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

const signals = {
  markSucceeded: markSucceededSignal,
  retryStep: retryStepSignal,
  rerunFrom: rerunFromSignal,
  approve: approveSignal,
} as const;

/** Runs of runPipeline: start (or dry run), list, show with live progress, and operator actions. */
@Injectable()
export class RunsService {
  constructor(
    private readonly temporal: TemporalService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PIPELINES) private readonly pipelines: PipelineRegistry,
  ) {}

  async start(dto: CreateRunDto): Promise<StartedRunDto | PlanDto> {
    const input = this.validateInput(dto);
    const workflowId = runWorkflowId(
      dto.pipeline,
      dto.runKey ?? `manual-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    );
    if (dto.reuseRunId) await this.summaryOf(dto.reuseRunId, 'reuseRunId');
    if (dto.dryRun) {
      try {
        const plan = await resolvePlan(
          {
            pipelines: this.pipelines,
            kinds: stepKinds,
            fetchRunSummary: (id) => this.summaryOf(id, 'reuseRunId'),
          },
          { ...input, workflowId, startTime: new Date().toISOString() },
        );
        return { plan: plan as unknown as Record<string, unknown> };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw new BadRequestException(error.message);
        throw error;
      }
    }
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
    // Values are validated by the DTO (enum, dates); quotes are still escaped for the pipeline name.
    if (query.pipeline) clauses.push(`Pipeline = '${query.pipeline.replace(/'/g, "\\'")}'`);
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

  async act(workflowId: string, action: OperatorAction, step: string, reason?: string): Promise<RunStatus> {
    const handle = await this.handle(workflowId);
    await this.describe(handle);
    const status = await this.status(handle);
    enforce(checkStepAction(status, action, step));
    if (action === 'markSucceeded')
      await handle.signal(signals.markSucceeded, { step, reason: reason ?? '' });
    else await handle.signal(signals[action], { step });
    return await this.status(handle);
  }

  async approve(workflowId: string, step: string | undefined): Promise<RunStatus> {
    if (step) return await this.act(workflowId, 'approve', step);
    const handle = await this.handle(workflowId);
    await this.describe(handle);
    const waiting = (await this.status(handle)).steps.filter(
      (candidate) => candidate.awaiting === 'approval',
    );
    if (waiting.length === 0)
      throw new ConflictException(`no step of run ${workflowId} is waiting for approval`);
    if (waiting.length > 1) {
      throw new BadRequestException(
        `step: several steps wait for approval (${waiting.map((s) => s.id).join(', ')}); name one`,
      );
    }
    return await this.act(workflowId, 'approve', waiting[0]!.id);
  }

  async abort(workflowId: string, reason: string): Promise<RunStatus> {
    const handle = await this.handle(workflowId);
    await this.describe(handle);
    const status = await this.status(handle);
    enforce(checkAbort(status));
    return await this.signalAndConfirm(handle, status, () => handle.signal(abortRunSignal, { reason }));
  }

  /**
   * Signals, then waits (bounded) until the workflow has recorded the signal, so the answer reflects
   * its verdict: a signal it rejected after all (a race with the run) becomes a 409 with its reason.
   */
  private async signalAndConfirm(
    handle: WorkflowHandle,
    before: RunStatus,
    send: () => Promise<void>,
  ): Promise<RunStatus> {
    const seen = signalCount(before);
    await send();
    const deadline = Date.now() + 10_000;
    let status = await this.status(handle);
    while (signalCount(status) <= seen && Date.now() < deadline) status = await this.status(handle);
    const verdict = signalCount(status) > seen ? newestSignal(status) : undefined;
    if (verdict && !verdict.accepted)
      throw new ConflictException(verdict.reason ?? `${verdict.signal} was rejected`);
    return status;
  }

  private validateInput(dto: CreateRunDto): RunPipelineInput {
    const definition = this.pipelines.get(dto.pipeline);
    if (!definition) {
      throw new BadRequestException(
        `pipeline: unknown pipeline ${dto.pipeline}; known: ${[...this.pipelines.keys()].join(', ')}`,
      );
    }
    try {
      resolveParameters(definition, dto.params ?? {});
    } catch (error) {
      if (error instanceof ParameterError) throw new BadRequestException(`params: ${error.message}`);
      throw error;
    }
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
      if (error instanceof WorkflowNotFoundError)
        throw new BadRequestException(`${field}: no run ${workflowId}`);
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

function enforce(check: ActionCheck): void {
  if (check.ok) return;
  throw check.status === 404 ? new NotFoundException(check.message) : new ConflictException(check.message);
}

function nextDay(date: string): string {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString().slice(0, 10);
}

import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import type { Config } from '../../config';
import { dailyRunTriggers, type PipelineRegistry } from '../../pipelines';
import type { Actor } from '../auth/roles';
import { PlannerService } from '../runs/planner.service';
import { checkRunParameters } from '../runs/run-parameters';
import type { RunPipelineInput } from '../../workflows/definitions';
import { JOIN_DAILY_RUN_WORKFLOW, RUN_PIPELINE_WORKFLOW } from '../runs/run-pipeline.ref';
import { CONFIG, PIPELINES } from '../config.token';
import { TemporalService } from '../temporal/temporal.service';
import type { BackfillDto, CreateScheduleDto, ScheduleDto, UpdateScheduleDto } from './schedule.dto';

type Overlap = NonNullable<CreateScheduleDto['overlap']>;

/**
 * A schedule's default overlap policy: a run still going at the next time (a multi-day quarterly
 * run) is followed by one queued run, never by a second run beside it and never by a lost quarter.
 */
export const DEFAULT_OVERLAP: Overlap = 'BUFFER_ONE';

/**
 * Overlap policies a backfill may use. Every backfilled run must start: SKIP and BUFFER_ONE drop runs,
 * CANCEL_OTHER and TERMINATE_OTHER stop them. ALLOW_ALL (the default) runs them side by side, which is
 * safe: each cutoff has its own scratch tables and models, and a persistent instance is leased to one
 * training at a time; BUFFER_ALL runs them one after another.
 */
export const BACKFILL_OVERLAPS: readonly Overlap[] = ['ALLOW_ALL', 'BUFFER_ALL'];

/** The cron text as the user wrote it rides along in the runs' memo (Temporal keeps only calendars). */
interface ScheduleMemo {
  scheduleCron: string[];
  scheduleTimezone?: string;
}

/**
 * Temporal Schedules that start runPipeline. A scheduled run's workflow id is
 * `<pipeline>/<schedule id>-<nominal time>` and its cutoff comes from its nominal time.
 */
@Injectable()
export class SchedulesService {
  constructor(
    private readonly temporal: TemporalService,
    private readonly planner: PlannerService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PIPELINES) private readonly pipelines: PipelineRegistry,
  ) {}

  async list(): Promise<ScheduleDto[]> {
    const client = await this.temporal.client();
    const ids: string[] = [];
    for await (const summary of client.schedule.list()) ids.push(summary.scheduleId);
    const described = await Promise.all(ids.map((id) => this.describe(id).catch(() => undefined)));
    return described.filter((schedule): schedule is ScheduleDto => schedule !== undefined);
  }

  async get(id: string): Promise<ScheduleDto> {
    return await this.describe(id);
  }

  async create(dto: CreateScheduleDto, actor: Actor): Promise<ScheduleDto> {
    const input = this.runInput(dto.pipeline, dto.params, actor, dto.id);
    // Its runs will be planned by the worker: check now (allow-lists, cost) rather than at 06:00.
    await this.planner.plan(input, `${input.pipeline}/${dto.id}`);
    const client = await this.temporal.client();
    try {
      await client.schedule.create({
        scheduleId: dto.id,
        spec: { cronExpressions: dto.cron, timezone: dto.timezone },
        action: this.action(input, dto.id, { scheduleCron: dto.cron, scheduleTimezone: dto.timezone }),
        policies: { overlap: ScheduleOverlapPolicy[dto.overlap ?? DEFAULT_OVERLAP], catchupWindow: '1 day' },
        state: { paused: dto.paused ?? false, note: dto.note },
      });
    } catch (error) {
      throw this.translate(error, dto.id);
    }
    return await this.describe(dto.id);
  }

  /**
   * The daily schedule of a pipeline with one run per day (`dailyRunTriggers`): its action is the
   * `joinDailyRun` workflow, which joins or starts the run of the nominal day by signal-with-start,
   * so the schedule and data arrivals never make two runs of one day.
   */
  async createDaily(
    pipeline: string,
    actor: Actor,
    options: { paused?: boolean } = {},
  ): Promise<ScheduleDto> {
    const trigger = dailyRunTriggers.get(pipeline);
    if (!trigger) throw new BadRequestException(`pipeline: ${pipeline} has no daily runs`);
    const { id, cron, timezone } = trigger.schedule;
    const input = this.runInput(pipeline, {}, actor, id);
    const client = await this.temporal.client();
    try {
      await client.schedule.create({
        scheduleId: id,
        spec: { cronExpressions: [cron], timezone },
        action: {
          ...this.action(input, id, { scheduleCron: [cron], scheduleTimezone: timezone }),
          workflowType: JOIN_DAILY_RUN_WORKFLOW,
          args: [{ ...input, rerunFrom: trigger.rerunFrom }],
        },
        policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow: '1 day' },
        state: { paused: options.paused ?? false, note: `daily runs of ${pipeline}, one per day` },
      });
    } catch (error) {
      throw this.translate(error, id);
    }
    return await this.describe(id);
  }

  async update(id: string, dto: UpdateScheduleDto, actor: Actor): Promise<ScheduleDto> {
    if (Object.values(dto).every((value) => value === undefined))
      throw new BadRequestException('body: nothing to change; give cron, timezone, params or overlap');
    const current = await this.describe(id);
    const input = this.runInput(
      current.pipeline,
      dto.params ?? (current.params as Record<string, string>),
      actor,
      id,
    );
    if (dto.params) await this.planner.plan(input, `${input.pipeline}/${id}`);
    const cron = dto.cron ?? current.cron;
    const timezone = dto.timezone ?? current.timezone;
    try {
      await (
        await this.handle(id)
      ).update((previous) => ({
        ...previous,
        spec: { cronExpressions: cron, timezone },
        // A daily schedule keeps its joinDailyRun action (and its rerunFrom) under new params.
        action: {
          ...this.action(input, id, { scheduleCron: cron, scheduleTimezone: timezone }),
          ...(previous.action.workflowType === JOIN_DAILY_RUN_WORKFLOW
            ? {
                workflowType: JOIN_DAILY_RUN_WORKFLOW,
                args: [{ ...(previous.action.args?.[0] as object), ...input }],
              }
            : {}),
        },
        policies: dto.overlap
          ? { ...previous.policies, overlap: ScheduleOverlapPolicy[dto.overlap] }
          : previous.policies,
      }));
    } catch (error) {
      throw this.translate(error, id);
    }
    return await this.describe(id);
  }

  async remove(id: string): Promise<void> {
    await this.call(id, (handle) => handle.delete());
  }

  async trigger(id: string): Promise<void> {
    await this.call(id, (handle) => handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL));
  }

  async pause(id: string, note?: string): Promise<ScheduleDto> {
    await this.call(id, (handle) => handle.pause(note ?? 'paused through the API'));
    return await this.describe(id);
  }

  async unpause(id: string, note?: string): Promise<ScheduleDto> {
    await this.call(id, (handle) => handle.unpause(note ?? 'unpaused through the API'));
    return await this.describe(id);
  }

  /** Starts the runs the schedule would have started in [start, end), each with its own nominal time. */
  async backfill(id: string, dto: BackfillDto): Promise<void> {
    const start = new Date(dto.start);
    const end = new Date(dto.end);
    if (!(start < end)) throw new BadRequestException('end: must be after start');
    const overlap: Overlap = dto.overlap ?? 'ALLOW_ALL';
    if (!BACKFILL_OVERLAPS.includes(overlap)) {
      throw new BadRequestException(
        `overlap: ${overlap} would skip or cancel backfilled runs; use ${BACKFILL_OVERLAPS.join(' or ')}`,
      );
    }
    // Count the runs first (the server lists the window's nominal times): a long window of a frequent
    // cron must not start thousands of runs from one request.
    await this.describe(id);
    const client = await this.temporal.client();
    const matching = await client.workflowService.listScheduleMatchingTimes({
      namespace: this.config.TEMPORAL_NAMESPACE,
      scheduleId: id,
      startTime: msToTs(start.getTime()),
      endTime: msToTs(end.getTime()),
    });
    const runs = matching.startTime?.length ?? 0;
    if (runs > this.config.API_BACKFILL_MAX_RUNS)
      throw new BadRequestException(
        `end: the window holds ${runs} runs of schedule ${id}, more than API_BACKFILL_MAX_RUNS (${this.config.API_BACKFILL_MAX_RUNS}); backfill a shorter window`,
      );
    await this.call(id, (handle) => handle.backfill({ start, end, overlap: ScheduleOverlapPolicy[overlap] }));
  }

  private runInput(
    pipeline: string,
    params: Record<string, unknown> | undefined,
    actor: Actor,
    scheduleId: string,
  ): RunPipelineInput {
    checkRunParameters(this.pipelines, pipeline, params, actor);
    // Defaults are resolved by each run's plan, so a changed default applies to later runs.
    return {
      pipeline,
      params: (params ?? {}) as RunPipelineInput['params'],
      startedBy: `schedule:${scheduleId} (set by ${actor.name})`,
    };
  }

  private action(input: RunPipelineInput, scheduleId: string, memo: ScheduleMemo) {
    return {
      type: 'startWorkflow' as const,
      workflowType: RUN_PIPELINE_WORKFLOW,
      workflowId: `${input.pipeline}/${scheduleId}`,
      taskQueue: this.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      memo: { ...memo },
    };
  }

  private async handle(id: string): Promise<ScheduleHandle> {
    return (await this.temporal.client()).schedule.getHandle(id);
  }

  private async call(id: string, action: (handle: ScheduleHandle) => Promise<void>): Promise<void> {
    try {
      await action(await this.handle(id));
    } catch (error) {
      throw this.translate(error, id);
    }
  }

  private async describe(id: string): Promise<ScheduleDto> {
    let description: ScheduleDescription;
    try {
      description = await (await this.handle(id)).describe();
    } catch (error) {
      throw this.translate(error, id);
    }
    const action = description.action;
    const input = (action.type === 'startWorkflow' ? action.args?.[0] : undefined) as
      RunPipelineInput | undefined;
    const memo = (action.type === 'startWorkflow' ? action.memo : undefined) as
      Partial<ScheduleMemo> | undefined;
    return {
      id,
      pipeline: input?.pipeline ?? '',
      cron: memo?.scheduleCron ?? [],
      timezone: memo?.scheduleTimezone,
      params: input?.params ?? {},
      paused: description.state.paused,
      note: description.state.note,
      overlap: description.policies.overlap ?? 'SKIP',
      nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
      recentRuns: description.info.recentActions.map((result) => result.action.workflow.workflowId),
    };
  }

  private translate(error: unknown, id: string): Error {
    if (error instanceof ScheduleNotFoundError) return new NotFoundException(`unknown schedule ${id}`);
    if (error instanceof ScheduleAlreadyRunning)
      return new ConflictException(`schedule ${id} already exists`);
    const message = error instanceof Error ? error.message : String(error);
    // The server validates cron text and time zones; its word is the clearest one.
    if (/cron|calendar|time ?zone|invalid/i.test(message)) return new BadRequestException(`cron: ${message}`);
    return error instanceof Error ? error : new Error(message);
  }
}

// Temporal Schedules from the command line (the API's /schedules routes do the same):
//   npm run schedules -- quarterly [--paused]        visits-scaling every quarter (1 Jan/Apr/Jul/Oct, 06:00 UTC)
//   npm run schedules -- sensor-clustering [--paused]   a daily pipeline (16:00 UTC): joins or starts the run of the day
//   npm run schedules -- PIPELINE [--paused]         that pipeline's usual schedule (see PIPELINE_SCHEDULES)
//   npm run schedules -- create ID PIPELINE "CRON" [key=value ...]
//   npm run schedules -- reaper [--dry-run] [--paused] [--every "15 minutes"]   the VM reaper (reapVms)
//   npm run schedules -- list | show ID | trigger ID | pause ID | unpause ID | delete ID
//   npm run schedules -- backfill ID START END      e.g. backfill visits-scaling-quarterly 2026-01-01 2026-07-02
// A scheduled run takes its cutoff from its nominal time, so a backfilled quarter sees the data of
// that quarter, not of today. TEMPORAL_ADDRESS etc. come from the environment (config/index.ts).
import { userInfo } from 'node:os';
import { loadConfig } from '../config';
import { dailyRunTriggers, pipelines } from '../pipelines';
import { PlannerService } from '../api/runs/planner.service';
import { SchedulesService } from '../api/schedules/schedules.service';
import { upsertReaperSchedule } from '../api/schedules/reaper-schedule';
import { TemporalService } from '../api/temporal/temporal.service';
import { demandForecastSchedule } from '../pipelines/demand-forecast/schedule';
import { ingestTrainEvaluateDeploySchedule } from '../pipelines/ingest-train-evaluate-deploy/schedule';

export const QUARTERLY = {
  id: 'visits-scaling-quarterly',
  pipeline: 'visits-scaling',
  cron: ['0 6 1 1,4,7,10 *'],
  // A quarter's run lasts days: a run still going queues the next one, it never runs beside it.
  overlap: 'BUFFER_ONE' as const,
};

/** The usual schedule of each pipeline, created by `npm run schedules -- <pipeline>`. */
export const PIPELINE_SCHEDULES: Record<
  string,
  { id: string; pipeline: string; cron: string[]; params?: Record<string, string> }
> = {
  'visits-scaling': QUARTERLY,
  'ingest-train-evaluate-deploy': ingestTrainEvaluateDeploySchedule,
  'demand-forecast': demandForecastSchedule,
};

const asDate = (value: string | undefined, name: string): string => {
  if (!value || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new Error(`${name} must be a date YYYY-MM-DD`);
  return value.length === 10 ? `${value}T00:00:00Z` : value;
};

function paramsOf(args: string[]): Record<string, string> {
  return Object.fromEntries(
    args.map((arg) => {
      const at = arg.indexOf('=');
      if (at < 1) throw new Error(`expected key=value, got ${arg}`);
      return [arg.slice(0, at), arg.slice(at + 1)];
    }),
  );
}

async function main(argv: string[]): Promise<unknown> {
  const config = loadConfig();
  const temporal = new TemporalService(config);
  const schedules = new SchedulesService(temporal, new PlannerService(temporal, config), config, pipelines);
  const [command, id = '', ...rest] = argv;
  // Whoever runs this script reaches Temporal directly, so acts as an admin; recorded by login name.
  const actor = { name: `cli:${userInfo().username}`, role: 'admin' as const };
  try {
    switch (command) {
      case 'quarterly':
        return await schedules.create({ ...QUARTERLY, paused: argv.includes('--paused') }, actor);
      case 'reaper': {
        const everyAt = argv.indexOf('--every');
        return await upsertReaperSchedule(await temporal.client(), config, {
          dryRun: argv.includes('--dry-run'),
          paused: argv.includes('--paused'),
          ...(everyAt > 0 ? { every: argv[everyAt + 1] } : {}),
        });
      }
      case 'create': {
        const [pipeline, cron, ...params] = rest;
        if (!pipeline || !cron) throw new Error('usage: create ID PIPELINE "CRON" [key=value ...]');
        return await schedules.create({ id, pipeline, cron: [cron], params: paramsOf(params) }, actor);
      }
      case 'list':
        return await schedules.list();
      case 'show':
        return await schedules.get(id);
      case 'trigger':
        await schedules.trigger(id);
        return await schedules.get(id);
      case 'pause':
        return await schedules.pause(id);
      case 'unpause':
        return await schedules.unpause(id);
      case 'delete':
        await schedules.remove(id);
        return { deleted: id };
      case 'backfill':
        await schedules.backfill(id, { start: asDate(rest[0], 'START'), end: asDate(rest[1], 'END') });
        return { backfill: id, start: rest[0], end: rest[1] };
      default: {
        if (command && dailyRunTriggers.has(command))
          return await schedules.createDaily(command, actor, { paused: argv.includes('--paused') });
        const usual = command ? PIPELINE_SCHEDULES[command] : undefined;
        if (usual) return await schedules.create({ ...usual, paused: argv.includes('--paused') }, actor);
        throw new Error(
          `usage: schedules quarterly|reaper|${[...dailyRunTriggers.keys(), ...Object.keys(PIPELINE_SCHEDULES)].join('|')}|create|list|show|trigger|pause|unpause|delete|backfill …`,
        );
      }
    }
  } finally {
    await temporal.onModuleDestroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error: unknown) => {
      const response = (error as { response?: unknown }).response;
      console.error(response ? JSON.stringify(response) : error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}

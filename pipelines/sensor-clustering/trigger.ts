import type { DailyRunTrigger } from '../core/triggers';

/**
 * One run per day: the 16:00 UTC schedule (seed 001's crontab) and every sensor's readings landing
 * for a date join the run of that date, which lists its sensors again (`sensors`) and runs the
 * features map over them, where an unchanged sensor stays cached (the rerun keeps caches).
 */
export const sensorClusteringDaily: DailyRunTrigger = {
  pipeline: 'sensor-clustering',
  rerunFrom: 'sensors',
  schedule: { id: 'sensor-clustering-daily', cron: '0 16 * * *', timezone: 'UTC' },
};

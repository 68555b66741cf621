// The catalog and the core (pure data, no I/O): what the API and the plan import.
export { pipelines, dailyRunTriggers } from './catalog';
export type { DailyRunTrigger } from './core/triggers';
export * from './core';

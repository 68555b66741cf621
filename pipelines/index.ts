// The catalog and the core (pure data, no I/O): what the API and the plan import.
export { pipelines } from './catalog';
export * from './core';

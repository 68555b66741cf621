/**
 * Limits that keep one run inside Temporal's per-workflow limits (2 MB payloads, 2,000 pending
 * activities, ~10,000 history events before it gets slow, 50,000 hard). Plain data: the workflow,
 * the plan activity and validation share them.
 */

/** Static steps per pipeline: beyond this the plan and the history outgrow Temporal's limits. */
export const MAX_STATIC_STEPS = 2500;

/** Items of one map step (tested up to this; each batch child holds at most MAP_CHILD_ITEMS). */
export const MAX_MAP_ITEMS = 10_000;
/** Items per `mapBatch` child workflow: keeps each child's history far under 10,000 events. */
export const MAP_CHILD_ITEMS = 500;
export const DEFAULT_MAP_CONCURRENCY = 50;
export const MAX_MAP_CONCURRENCY = 1000;
export const DEFAULT_BATCH_SIZE = 500;

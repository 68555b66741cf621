/**
 * Limits that keep one run inside Temporal's per-workflow limits (2 MB payloads, 2,000 pending
 * activities, ~10,000 history events before it gets slow, 50,000 hard). Plain data: the workflow,
 * the plan activity and validation share them.
 */

/** Static steps per pipeline: beyond this the plan and the history outgrow Temporal's limits. */
export const MAX_STATIC_STEPS = 2500;

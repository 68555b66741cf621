import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes that make runs filterable in the Temporal Web UI. Registered by the local
 * stack (`--search-attribute`) and by `temporal operator search-attribute create` in production.
 * Workflow-safe: imported by workflow code to upsert them.
 */
export const PIPELINE = defineSearchAttributeKey('Pipeline', SearchAttributeType.KEYWORD);
export const CURRENT_STEP = defineSearchAttributeKey('CurrentStep', SearchAttributeType.KEYWORD);
export const RUN_STATE = defineSearchAttributeKey('RunState', SearchAttributeType.KEYWORD);

export const customSearchAttributes = [PIPELINE, CURRENT_STEP, RUN_STATE];

/** `--search-attribute Name=Keyword` flags, the form the `temporal` CLI takes. */
export const searchAttributeFlags = (): string[] =>
  customSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);

/**
 * Pipeline definitions and plans as plain data. No I/O and no Node built-ins: workflow code imports
 * these types, the plan activity and the API import the values.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What a failed step does to the run: stop its downstream (`fail`) or wait for an operator (`wait`). */
export type OnFailure = 'fail' | 'wait';

/**
 * Retry policy of a step's activity, in Temporal's terms (durations as strings like `'30 seconds'`).
 * Retries happen inside one attempt of the step; `retryStep` starts a new attempt.
 */
export interface StepRetryPolicy {
  maximumAttempts?: number;
  initialInterval?: string;
  backoffCoefficient?: number;
  maximumInterval?: string;
  nonRetryableErrorTypes?: string[];
}

/** A git repository a step runs code from; the plan pins `ref` to a commit. */
export interface StepRepo {
  /** Anything `git ls-remote` accepts: a URL or a local path. */
  url: string;
  /** Branch, tag or commit; may be a `{{param}}` template. */
  ref: string;
}

/** `duration`: a Temporal duration string (`'5 hours'`, `'90 seconds'`, `'2d'`), checked when a run is planned. */
export type ParameterType = 'string' | 'number' | 'boolean' | 'date' | 'duration';

/**
 * What a parameter picks outside the run, checked against the worker's allow-lists at plan time:
 * a BigQuery dataset (no `project.` prefix unless the project is allow-listed), a persistent
 * instance, a machine type, an accelerator (`type:count`), a git repository of model code.
 */
export type ParameterResource = 'dataset' | 'instance' | 'machine-type' | 'accelerator' | 'models-repo';

export interface ParameterDefinition {
  type: ParameterType;
  /** The parameter names an outside resource; its value must be allow-listed (docs/security.md). */
  resource?: ParameterResource;
  /** Changing it from its default weakens a safety check (approval, thresholds): admin role only. */
  privileged?: boolean;
  /** Without a default the parameter is required when a run starts. */
  default?: JsonPrimitive;
  description?: string;
  /** Allowed values (e.g. VM templates). */
  choices?: JsonPrimitive[];
  /** Number parameters: the smallest and largest allowed value (inclusive), checked when a run is planned. */
  min?: number;
  max?: number;
}

/**
 * Where a map step's items come from (docs/map-steps.md):
 * - a JSON array (its strings may use `{{param}}`, `{{cutoff}}`),
 * - `'{{param}}'`, a string parameter holding a JSON array or a comma-separated list,
 * - `{ step, field }`: the array an upstream step (in `after`) returned in its result's `info[field]`.
 */
export type MapSource = JsonValue[] | string | { step: string; field: string };

/** What an author writes under `map:`; everything but `forEach` has a default. */
export interface MapOptions {
  forEach: MapSource;
  /** Items executing at once (1–1000; default 50); the map step counts as one of the run's `maxParallel`. */
  maxConcurrency?: number;
  /** Fraction of items that must succeed (0–1; default 1): above it the step succeeds naming its failed items. */
  minSuccessRatio?: number;
  /**
   * Items per batch: a number, or a share of the items like `'20%'` (default 500). A batch runs as
   * child workflows of at most 500 items; `eachBatch` steps run on each finished batch.
   */
  batchSize?: number | string;
}

export interface MapDefinition {
  forEach: MapSource;
  maxConcurrency: number;
  minSuccessRatio: number;
  batchSize: number | string;
}

export interface StepDefinition {
  /** Dotted id, `quality.train`; unique within the pipeline. */
  id: string;
  after: string[];
  /** Dispatch key: `sql`, `train`, `evaluate`, `promote`, `copy`, `cleanup`, `gate`, ... */
  kind: string;
  /** Kind-specific settings. Strings may reference `{{param}}`, `{{cutoff}}`, `{{pipeline}}`. */
  spec: JsonObject;
  /** Bump when the step's logic changes: it enters the cache key. */
  version: string;
  retry?: StepRetryPolicy;
  /** Skip the step when its outputs already exist (they are named from the cache key). */
  cache: boolean;
  /** Wait for `approve(step)` before running; a `{{param}}` template makes it a run-time choice. */
  approval: boolean | string;
  onFailure: OnFailure;
  /** Logical output names; each becomes a physical name derived from the cache key. */
  outputs: string[];
  repo?: StepRepo;
  /** Also run when the run is aborted (cleanup of scratch tables, VMs). */
  cleanup: boolean;
  /** startToCloseTimeout of one attempt of the step's activity. */
  timeout: string;
  description?: string;
  /** A map step: the kind runs once per item, `{{item}}` / `{{item.<field>}}` in the spec. */
  map?: MapDefinition;
  /** Runs after each finished batch of its map upstream too (partial results), then once at the end. */
  eachBatch?: boolean;
}

export interface PipelineDefinition {
  name: string;
  description?: string;
  parameters: Record<string, ParameterDefinition>;
  /** In declaration order; validated: unique ids, known dependencies, no cycles, known parameters. */
  steps: StepDefinition[];
}

/**
 * How a step kind runs: not at all (a gate or join point), as the generic `executeStep` activity, or as
 * a child workflow the runner knows by name (with the kind's activities around it).
 */
export type StepRuns =
  | { by: 'nothing' }
  | { by: 'activity' }
  /**
   * In the worker that runs the workflow task, without an activity task round trip (a marker in
   * history, no schedule/start/complete events): for short kinds with no I/O worth a heartbeat
   * (`echo`). Not for anything that may outlive a workflow task's few seconds or needs cancelling.
   */
  | { by: 'local-activity' }
  | { by: 'child-workflow'; workflow: ChildWorkflowName };

/** Child workflows a step kind may run as (workflows/runner/dispatch.ts has one case per name). */
export type ChildWorkflowName = 'trainOnVm';

/** A step as resolved for one run: templates filled in, repo pinned, cache key and output names fixed. */
export interface PlannedStep {
  id: string;
  after: string[];
  kind: string;
  spec: JsonObject;
  version: string;
  /**
   * How the step runs, from its kind (the workflow dispatches on this, never on kind names), and the
   * kind's version. Absent only in plans recorded before kinds were plugins (runs still in flight).
   */
  runs?: StepRuns;
  kindVersion?: string;
  retry?: StepRetryPolicy;
  cache: boolean;
  approval: boolean;
  onFailure: OnFailure;
  cleanup: boolean;
  timeout: string;
  /** Commit the step's repo was pinned to. */
  commit?: string;
  repo?: StepRepo;
  cacheKey: string;
  /** Logical output name → physical name (`smc_<pipeline>.<step>_<key8>`). */
  outputs: Record<string, string>;
  /** Set when the step's outputs are taken from an earlier run (`reuseRunId` + `from`). */
  reuse?: { runId: string; outputs: Record<string, string> };
  map?: PlannedMap;
  eachBatch?: boolean;
}

/** A map step as planned: a static list is resolved, an upstream one is read when the step starts. */
export interface PlannedMap {
  source: { items: JsonValue[] } | { step: string; field: string };
  maxConcurrency: number;
  minSuccessRatio: number;
  batchSize: number | string;
}

export type CutoffSource = 'explicit' | 'schedule' | 'start';

/** The definition resolved for one run, produced by an activity so it is recorded in history. */
export interface Plan {
  pipeline: string;
  workflowId: string;
  params: Record<string, JsonPrimitive>;
  /** `YYYY-MM-DD`. */
  cutoff: string;
  cutoffSource: CutoffSource;
  /** Topological order (a step comes after everything it depends on). */
  steps: PlannedStep[];
  reuse?: { runId: string; from: string };
  /** Steps executing at once (absent in plans made before the bounded scheduler: unbounded). */
  maxParallel?: number;
  /** False when the server does not know our custom search attributes (the time-skipping test server). */
  searchAttributes: boolean;
  createdAt: string;
}

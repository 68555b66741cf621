import { z } from 'zod';

/**
 * The one typed configuration of Retrainer, parsed once from the environment and passed into
 * factories. Every name here is the single name used by the worker, the API, docker-compose.yml and
 * the docs. Defaults describe the local stack (`npm run demo`).
 */
export const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('retrainer'),
  /**
   * Task queue of trainings' long heartbeating activities (the monitor, the wait for SSH), so a worker
   * busy with SQL never delays a training's heartbeat; empty means TEMPORAL_TASK_QUEUE.
   */
  TEMPORAL_TASK_QUEUE_TRAINING: z.string().default(''),
  /**
   * What a worker process polls: `all` (TEMPORAL_TASK_QUEUE, and TEMPORAL_TASK_QUEUE_TRAINING when
   * set), `pipeline` (TEMPORAL_TASK_QUEUE only) or `training` (TEMPORAL_TASK_QUEUE_TRAINING only).
   */
  WORKER_ROLE: z.enum(['all', 'pipeline', 'training']).default('all'),
  /**
   * `host:port` where a worker process serves Prometheus metrics (Temporal's runtime telemetry and
   * Retrainer's own series) at `/metrics`; empty means no metrics endpoint.
   */
  WORKER_METRICS_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.:[\]-]+:\d{1,5}$/, 'host:port, e.g. 0.0.0.0:9464')
    .or(z.literal(''))
    .default(''),
  /** Base URL of the Temporal Web UI, used for links printed by the demo and returned by the API. */
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
  BIGQUERY_PROJECT: z.string().min(1).default('retrainer-local'),
  /** Empty means real BigQuery; the local stack sets the emulator's URL. */
  BIGQUERY_API_ENDPOINT: z.union([z.url(), z.literal('')]).default(''),
  BIGQUERY_LOCATION: z.string().min(1).default('US'),
  VM_PROVIDER: z.enum(['local', 'gce']).default('local'),
  GCE_PROJECT: z.string().default(''),
  GCE_ZONE: z.string().default('europe-west1-b'),
  /** Empty means the real Compute Engine API; a URL (`http://127.0.0.1:PORT`) points the client elsewhere. */
  GCE_API_ENDPOINT: z.union([z.url(), z.literal('')]).default(''),
  /** Login user and private key file for SSH into Compute Engine VMs (the key is in the project's metadata). */
  GCE_SSH_USER: z.string().default('retrainer'),
  GCE_SSH_PRIVATE_KEY_FILE: z.string().default(''),
  /** Which address of the VM the worker dials: `internal` (same VPC) or `external` (NAT IP). */
  GCE_SSH_ADDRESS: z.enum(['internal', 'external']).default('internal'),
  /** Folder of the `local` provider's instances; empty means `<DATA_DIR>/vms`. */
  LOCAL_VM_ROOT: z.string().default(''),
  /** Folder of the `local` provider's machine images (one sub-folder per image, with `image.json`). */
  LOCAL_MACHINE_IMAGES_DIR: z.string().min(1).default('machine-images'),
  /** Root of local state: Temporal's SQLite file, logs, local VMs, the model registry. */
  DATA_DIR: z.string().min(1).default('.data'),
  /** Scratch datasets are `<prefix><pipeline>`; every run's intermediate tables live there. */
  SCRATCH_DATASET_PREFIX: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('smc_'),
  /** Default table expiration of scratch datasets, a safety net behind the run's own cleanup. */
  SCRATCH_EXPIRATION_DAYS: z.coerce.number().int().min(1).default(30),
  /** Model registry root; empty means `<DATA_DIR>/registry`. */
  REGISTRY_DIR: z.string().default(''),
  /**
   * Model registry (versions and aliases) in Cloud Storage: `gs://bucket/prefix`, the folder's layout,
   * aliases moved by compare-and-set on object generations. Empty means the folder (REGISTRY_DIR).
   */
  REGISTRY_URL: z
    .string()
    .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](\/.*)?$/, 'gs://bucket[/prefix]')
    .or(z.literal(''))
    .default(''),
  /** Empty means the real Cloud Storage API; a URL (`http://127.0.0.1:PORT`) points the client elsewhere. */
  GCS_API_ENDPOINT: z.union([z.url(), z.literal('')]).default(''),
  /** Versions kept per model by the registry's retention (the `production` one is always kept). */
  REGISTRY_KEEP_VERSIONS: z.coerce.number().int().min(1).default(5),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * Comma-separated API tokens `name:role:secret` (role `viewer`, `operator` or `admin`; the secret at
   * least 8 characters). The name is what the audit trail records; empty means every protected route
   * answers 401.
   */
  API_TOKENS: z
    .string()
    .default('')
    .superRefine((value, context) => {
      for (const problem of apiTokenProblems(value)) context.addIssue({ code: 'custom', message: problem });
    }),
  /** Who may read the OpenAPI document at /docs and /docs-json: `auth` (any token), `public` or `off`. */
  API_DOCS: z.enum(['auth', 'public', 'off']).default('auth'),
  /** Requests per minute per client address (all routes but /health). */
  API_RATE_LIMIT: z.coerce.number().int().min(1).default(600),
  /** Run starts (POST /runs without dryRun, schedule triggers and backfills) per minute per token. */
  API_START_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
  /** Largest accepted request body (JSON), e.g. `100kb`. */
  API_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'expected a size like 100kb')
    .default('100kb'),
  /** Most runs one backfill may start (POST /schedules/:id/backfill counts the window's nominal times). */
  API_BACKFILL_MAX_RUNS: z.coerce.number().int().min(1).default(100),
  /** Seconds the API waits for the worker to plan a run (dry run, checks before a start). */
  API_PLAN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(60),
  /**
   * Git repositories runs may take model code from (comma-separated URLs or paths; `.` is the worker's
   * working directory). A step whose repository is not listed is rejected at plan time.
   */
  MODELS_REPOS: z.string().default('.'),
  /** GCP projects a dataset parameter may name (`project.dataset`); without one, only this project's datasets. */
  ALLOWED_DATASET_PROJECTS: z.string().default(''),
  /** Instances a persistent-instance parameter may name (comma-separated). */
  ALLOWED_INSTANCES: z.string().default('quality-notebook'),
  /** Machine types a run may ask for; empty means every type of the price table (config/prices.ts). */
  ALLOWED_MACHINE_TYPES: z.string().default(''),
  /** Accelerator types a run may ask for; empty means every type of the price table. */
  ALLOWED_ACCELERATORS: z.string().default(''),
  /** Largest number of accelerators one VM may ask for. */
  MAX_ACCELERATORS: z.coerce.number().int().min(0).default(4),
  /**
   * The most a run's trainings may cost at list prices (USD, each training at its maximum duration);
   * a plan above it is rejected.
   */
  RUN_COST_CEILING_USD: z.coerce.number().min(0).default(100),
  /** TLS to the Temporal frontend (worker and API): off, or on with the system CAs or TEMPORAL_TLS_CA. */
  TEMPORAL_TLS: z.enum(['off', 'on']).default('off'),
  /** PEM file of the CA that signed the Temporal frontend's certificate (empty: the system CAs). */
  TEMPORAL_TLS_CA: z.string().default(''),
  /** Client certificate and key (PEM files) for mutual TLS; both or neither. */
  TEMPORAL_TLS_CERT: z.string().default(''),
  TEMPORAL_TLS_KEY: z.string().default(''),
  /** Server name to verify when it differs from the host of TEMPORAL_ADDRESS. */
  TEMPORAL_TLS_SERVER_NAME: z.string().default(''),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Webhook (Slack-compatible JSON POST) for run notifications; empty means none. */
  NOTIFY_WEBHOOK_URL: z.union([z.url(), z.literal('')]).default(''),
  /** SMTP server for notification emails, `smtp://user:pass@host:port`; empty means no email. */
  SMTP_URL: z.string().default(''),
  /** Comma-separated recipients of notification emails. */
  NOTIFY_EMAIL_TO: z.string().default(''),
  NOTIFY_EMAIL_FROM: z.string().default('retrainer@localhost'),
});

export type Config = z.infer<typeof configSchema>;

/** API roles, each allowed what the ones before it are. */
export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiToken {
  name: string;
  role: ApiRole;
  secret: string;
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parses API_TOKENS (`name:role:secret,…`); the secret may itself contain colons. */
export function parseApiTokens(value: string): ApiToken[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name = '', role = '', ...rest] = entry.split(':');
      return { name, role: role as ApiRole, secret: rest.join(':') };
    });
}

function apiTokenProblems(value: string): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  parseApiTokens(value).forEach((token, index) => {
    // Never echo a secret: a token without `name:role:` is named by its position only.
    if (!token.secret || !TOKEN_NAME.test(token.name)) {
      problems.push(`token ${index + 1}: expected name:role:secret with a name of letters, digits, . _ -`);
      return;
    }
    const where = `token ${index + 1} (${token.name})`;
    if (names.has(token.name)) problems.push(`${where}: the name is used twice`);
    names.add(token.name);
    if (!API_ROLES.includes(token.role))
      problems.push(`${where}: role must be one of ${API_ROLES.join(', ')}`);
    if (token.secret.length < 8) problems.push(`${where}: the secret needs at least 8 characters`);
  });
  return problems;
}

/** A comma-separated config list, trimmed, without empty entries. */
export const configList = (value: string): string[] =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);

/** The environment variable names Retrainer reads (docker-compose.yml is checked against this list). */
export const configKeys = Object.keys(configSchema.shape) as (keyof Config)[];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses and validates the configuration; a bad value fails with every offending variable named. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(configKeys.map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

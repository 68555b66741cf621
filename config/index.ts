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
  /** Versions kept per model by the registry's retention (the `production` one is always kept). */
  REGISTRY_KEEP_VERSIONS: z.coerce.number().int().min(1).default(5),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Comma-separated bearer tokens accepted by the API. */
  API_TOKENS: z.string().default(''),
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

import { z } from 'zod';

/**
 * Seed 004's dev/prod configuration files (`config/<environment>.json`): where the refined input is,
 * where forecasts go, and the training machine. Pure: the `forecast_cutoffs` kind reads the file at
 * the run's pinned commit and checks it with this schema; tests use the same functions.
 */
export const ENVIRONMENTS = ['dev', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const dataset = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,1023}$/, 'expected a dataset name');
export const environmentConfigSchema = z.strictObject({
  input_dataset: dataset,
  output_dataset: dataset,
  machine_type: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected a machine type like n1-standard-4'),
  vm_template: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected a machine image name'),
});
export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;

/** The configuration file of an environment, as a path from the repository root. */
export const configFileOf = (environment: string): string =>
  `pipelines/demand-forecast/config/${environment}.json`;
export const CONFIG_FILE = /^pipelines\/demand-forecast\/config\/[a-z]+\.json$/;

/** One training of the map over cutoffs: the cutoff and everything its environment binds. */
export type CutoffItem = { cutoff: string; environment: string } & EnvironmentConfig;

/** Parses a configuration file's text; the error names the file and each bad field. */
export function parseEnvironmentConfig(file: string, text: string): EnvironmentConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON`);
  }
  const parsed = environmentConfigSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`,
    );
    throw new Error(`${file}: ${fields.join('; ')}`);
  }
  return parsed.data;
}

/**
 * The cutoffs to train for: the available ones up to `until` (the run's cutoff, so a backfill sees
 * what was available then), sorted; only the last one when `onlyLast`.
 */
export function selectCutoffs(available: string[], until: string, onlyLast: boolean): string[] {
  const eligible = [...new Set(available.filter((cutoff) => cutoff <= until))].sort();
  return onlyLast ? eligible.slice(-1) : eligible;
}

export function cutoffItems(environment: string, config: EnvironmentConfig, cutoffs: string[]): CutoffItem[] {
  return cutoffs.map((cutoff) => ({ cutoff, environment, ...config }));
}

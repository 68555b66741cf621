import type { BigQuery } from '@google-cloud/bigquery';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Config } from '../../config';
import type { JsonPrimitive } from '../../pipelines/core';
import { projectRoot } from '../../activities/providers/paths';
import { prepareVisitsScalingWarehouse } from '../../pipelines/visits-scaling/synthetic/warehouse';
import { loadHousing } from '../../pipelines/ingest-train-evaluate-deploy/synthetic/load';
import { loadDemand } from '../../pipelines/demand-forecast/synthetic/load';

export interface DemoContext {
  bigquery: BigQuery;
  config: Config;
  registryDir: string;
  print: (line: string) => void;
  /** Seconds each training runs, for pipelines whose trainings take a time budget. */
  trainSeconds?: number;
  requireApproval?: boolean;
}

/** What a demo run starts with: its cutoff, its parameters and facts about the prepared data. */
export interface DemoStart {
  cutoff: string;
  params: Record<string, JsonPrimitive>;
  facts: Record<string, unknown>;
}

/** How `npm run demo -- <pipeline>` prepares synthetic data for one pipeline and starts it. */
export interface DemoRecipe {
  pipeline: string;
  /** One line for the list `npm run demo -- --list` prints. */
  about: string;
  prepare(context: DemoContext): Promise<DemoStart>;
}

/** The commit the demo pins model code to (the checkout's HEAD). */
const head = (): string =>
  execFileSync('git', ['-C', projectRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();

/**
 * Runs `prepare` once per DATA_DIR and pipeline (a marker file keeps its facts), so a second demo
 * finds last run's outputs and shows the cache at work.
 */
async function once<T>(config: Config, name: string, prepare: (dir: string) => Promise<T>): Promise<T> {
  const marker = join(config.DATA_DIR, `demo-${name}.json`);
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as T;
  const dir = join(config.DATA_DIR, `demo-${name}`);
  mkdirSync(dir, { recursive: true });
  const facts = await prepare(dir);
  writeFileSync(marker, `${JSON.stringify(facts, null, 2)}\n`);
  return facts;
}

const visitsScaling: DemoRecipe = {
  pipeline: 'visits-scaling',
  about: 'seed 000: four models trained on VMs, champion/challenger, approval, promotion, gap fill',
  async prepare({ bigquery, config, registryDir, print, trainSeconds, requireApproval }) {
    // The marker keeps its historical name: an existing .data/ keeps its warehouse.
    const warehouse = await once(config, 'warehouse', async (dir) => {
      print('generating the synthetic warehouse and the previous quarter (production tables and models)…');
      const prepared = await prepareVisitsScalingWarehouse({
        bigquery,
        config,
        registryDir,
        registryOptions: { apiEndpoint: config.GCS_API_ENDPOINT },
        dir,
        synthetic: { metAreas: [0, 11, 22, 33, 44, 66, 77], poisPerArea: 4, days: 150 },
      });
      print(
        `  loaded ${Object.entries(prepared.tables)
          .map(([table, rows]) => `${table} ${rows}`)
          .join(', ')}`,
      );
      return prepared;
    });
    return {
      cutoff: warehouse.cutoff,
      facts: { ...warehouse },
      params: {
        train_seconds: trainSeconds ?? 8,
        train_steps: 400,
        monitor_poll_interval: '1 second',
        // Heartbeats (the live progress) are throttled to 0.8 × this: seconds-long trainings need it short.
        monitor_heartbeat_timeout: '3 seconds',
        quality_min_training: '3 seconds',
        require_approval: requireApproval ?? true,
        models_repo: projectRoot,
        models_ref: head(),
      },
    };
  },
};

const ingestTrainEvaluateDeploy: DemoRecipe = {
  pipeline: 'ingest-train-evaluate-deploy',
  about: 'seed 003: ingest → train an MLP on a VM → evaluate held out → deploy if better, Luigi-style reuse',
  async prepare({ bigquery, config, print }) {
    const housing = await once(config, 'housing', async (dir) => {
      print('loading synthetic staging records (Boston-housing-like) into housing_source.records…');
      const loaded = await loadHousing({ bigquery, config, dir });
      print(`  loaded ${loaded.records} records`);
      return loaded;
    });
    return {
      cutoff: housing.cutoff,
      facts: { ...housing },
      params: {
        epochs: 150,
        monitor_poll_interval: '1 second',
        monitor_heartbeat_timeout: '3 seconds',
        models_repo: projectRoot,
        models_ref: head(),
      },
    };
  },
};

const demandForecast: DemoRecipe = {
  pipeline: 'demand-forecast',
  about:
    'seed 004: weekly forecasts for every cutoff (a map), one training job per cutoff on a VM, dev config',
  async prepare({ bigquery, config, print }) {
    const demand = await once(config, 'demand', async (dir) => {
      print('loading synthetic weekly sales and refinement cutoffs (dev and prod input datasets)…');
      const loaded = await loadDemand({ bigquery, config, dir });
      print(
        `  loaded ${Object.entries(loaded.loaded)
          .map(([dataset, rows]) => `${dataset} ${rows} rows`)
          .join(', ')}; cutoffs ${loaded.cutoffs.join(', ')}`,
      );
      return loaded;
    });
    return {
      cutoff: demand.cutoff,
      facts: { ...demand },
      params: {
        environment: 'dev',
        only_last: false,
        monitor_poll_interval: '1 second',
        monitor_heartbeat_timeout: '3 seconds',
        models_repo: projectRoot,
        models_ref: head(),
      },
    };
  },
};

/** Every pipeline `npm run demo -- <pipeline>` can run; the plain `npm run demo` runs the first. */
export const demoRecipes: DemoRecipe[] = [visitsScaling, ingestTrainEvaluateDeploy, demandForecast];

export function demoRecipe(pipeline: string): DemoRecipe {
  const recipe = demoRecipes.find((r) => r.pipeline === pipeline);
  if (!recipe) {
    throw new Error(
      `no demo for pipeline ${JSON.stringify(pipeline)}; demos: ${demoRecipes.map((r) => r.pipeline).join(', ')}`,
    );
  }
  return recipe;
}

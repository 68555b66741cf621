import { Context } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createBigQueryActivities } from '../bigquery';
import { BigQueryErrorType, bigQueryFailure } from '../bigquery/errors';
import { parseTableName } from '../bigquery/steps';
import { RegistryErrorType } from '../registry';
import { z } from 'zod';
import type { JsonObject } from '../../pipelines/core';
import { statusQuery, type StepStatus } from '../../workflows/definitions';
import {
  artifactDir,
  failure,
  modelFileOf,
  modelRegistryOf,
  readJson,
  PipelineStepErrorType,
  readModelArtifact,
  runLabels,
  shortHash,
  type KindDeps,
} from './common';
import { defineKind } from './kind';
import { readDecision, writeArtifact } from './models';
import { name } from './schemas';

/** The spec of `prepare`: the source tables that must exist before anything runs. */
export const prepareSpec = z.strictObject({ sources: z.array(z.strictObject({ table: name })) });

/** The spec of `promote`: the evaluation's decision, the models to publish, the tables to replace. */
export const promoteSpec = z.strictObject({
  decision: name,
  models: z.array(z.strictObject({ model: name, artifact: name })),
  tables: z.array(z.strictObject({ source: name, target: name })),
});

/** The spec of `cleanup`. */
export const cleanupSpec = z.strictObject({
  /** Also delete the step output tables (else they stay until the scratch expiry, as the cache). */
  delete_outputs: z.boolean().default(false),
});

/** What `promote` keeps in `<artifacts>/<record output>/promotion.json`. */
export interface PromotionRecord {
  promoted: boolean;
  reason: string;
  versions: Record<string, string>;
  replaced: string[];
}

/** A promotion record (`promotion.json` of a `promote` step's output), or undefined. */
export const recordOf = (deps: KindDeps, artifact: string) =>
  readJson<PromotionRecord>(join(artifactDir(deps, artifact), 'promotion.json'));

/** `prepare`: checks the sources and creates the pipeline's scratch dataset. */
export const prepareKind = defineKind({
  name: 'prepare',
  version: '1',
  runs: { by: 'activity' },
  spec: prepareSpec,
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    const datasetOf = (outputs: Record<string, string>) =>
      String(Object.values(outputs)[0] ?? '').split('.')[0] as string;
    const missingSources = async (spec: z.infer<typeof prepareSpec>) => {
      const missing: string[] = [];
      for (const { table: name } of spec.sources) {
        const table = parseTableName(name);
        const [datasetExists] = await deps.bigquery.dataset(table.dataset).exists();
        if (!datasetExists || !(await warehouse.describeTable({ table })).exists) missing.push(name);
      }
      return missing;
    };
    return {
      async run(execution) {
        const missing = await missingSources(execution.step.spec);
        if (missing.length > 0) {
          throw bigQueryFailure(
            BigQueryErrorType.TABLE_NOT_FOUND,
            `source tables not found: ${missing.join(', ')}`,
          );
        }
        const { dataset, created } = await warehouse.ensureScratchDataset({ pipeline: execution.pipeline });
        return { info: { dataset, created } };
      },
      /** Cached while the scratch dataset exists; the sources are checked every time (it is cheap). */
      async outputsExist(execution) {
        const [exists] = await deps.bigquery.dataset(datasetOf(execution.outputs)).exists();
        return exists && (await missingSources(execution.step.spec)).length === 0;
      },
    };
  },
});

/** `promote`: models and tables to production, all or nothing, if the evaluation said so. */
export const promoteKind = defineKind({
  name: 'promote',
  version: '1',
  runs: { by: 'activity' },
  spec: promoteSpec,
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    const registry = modelRegistryOf(deps);
    return {
      async run(execution) {
        const spec = execution.step.spec;
        const decision = readDecision(deps, spec.decision);
        if (!decision) {
          throw failure(
            PipelineStepErrorType.ARTIFACT_MISSING,
            `step ${execution.step.id}: no evaluation decision`,
          );
        }
        if (!decision.promote) {
          const record: PromotionRecord = {
            promoted: false,
            reason: decision.reason,
            versions: {},
            replaced: [],
          };
          writeArtifact(deps, execution, 'record', 'promotion.json', record);
          // Said in the outputs too, so the run's final result (its summary) tells it.
          return {
            outputs: { ...execution.outputs, promoted: 'false' },
            info: record as unknown as JsonObject,
          };
        }
        const models = spec.models.map(({ model, artifact }) => ({
          name: model,
          artifact,
          meta: readModelArtifact(deps, artifact),
        }));
        for (const { name, artifact, meta } of models) {
          const known = await registry
            .getModelVersion({ model: name, version: meta.version })
            .catch((error: unknown) => {
              if ((error as { type?: string }).type === RegistryErrorType.VERSION_NOT_FOUND) return null;
              throw error;
            });
          if (known) continue; // the same computation, published by an earlier run
          const metrics = join(artifactDir(deps, artifact), 'metrics.jsonl');
          await registry.registerModelVersion({
            model: name,
            version: meta.version,
            files: [modelFileOf(deps, artifact), ...(existsSync(metrics) ? [metrics] : [])],
            modelFile: 'model.json',
            metrics: { mse: decision.models[name]?.challenger ?? Number.NaN },
            lineage: { runId: meta.runId, commit: meta.commit, cutoff: meta.cutoff },
          });
        }
        const tables = spec.tables.map((entry) => ({
          source: parseTableName(entry.source),
          target: parseTableName(entry.target),
        }));
        const promotionId = `p_${shortHash(`${execution.workflowId}/${execution.step.cacheKey}`, 16)}`;
        const { plan, replaced } = await warehouse.promoteTables({
          promotionId,
          tables,
          labels: runLabels(execution),
          keepBackups: true,
        });
        const moved: { name: string; previous: string | null }[] = [];
        try {
          for (const { name, meta } of models) {
            const expected = decision.models[name]?.championVersion ?? null;
            const { previous } = await registry.setModelAlias({
              model: name,
              version: meta.version,
              expectedCurrent: expected,
            });
            moved.push({ name, previous });
          }
        } catch (error) {
          // All or nothing: the tables go back, and so do the aliases already moved.
          await warehouse.rollbackPromotion({ plan });
          for (const { name, previous } of moved) {
            if (previous) await registry.setModelAlias({ model: name, version: previous });
          }
          await warehouse.finishPromotion({ plan });
          throw error;
        }
        await warehouse.finishPromotion({ plan });
        for (const { name } of models) {
          await registry.pruneModelVersions({ model: name, keep: deps.config.REGISTRY_KEEP_VERSIONS ?? 5 });
        }
        const record: PromotionRecord = {
          promoted: true,
          reason: decision.reason,
          versions: Object.fromEntries(models.map((m) => [m.name, m.meta.version])),
          replaced,
        };
        writeArtifact(deps, execution, 'record', 'promotion.json', record);
        return { outputs: { ...execution.outputs, promoted: 'true' }, info: record as unknown as JsonObject };
      },
      /** Done when it followed the current decision: not promoting, or production still holds what it promoted. */
      async outputsExist(execution) {
        const record = recordOf(deps, execution.outputs.record ?? '');
        const decision = readDecision(deps, execution.step.spec.decision);
        if (!record || !decision || record.promoted !== decision.promote) return false;
        for (const [model, version] of Object.entries(record.versions)) {
          if ((await registry.getModelAlias({ model }))?.version !== version) return false;
        }
        return true;
      },
    };
  },
});

/** `cleanup`: deletes the run's scratch tables (a cleanup step also runs when the run is aborted). */
export const cleanupKind = defineKind({
  name: 'cleanup',
  version: '1',
  runs: { by: 'activity' },
  spec: cleanupSpec,
  handler: (deps: KindDeps) => {
    const warehouse = createBigQueryActivities(deps.bigquery, deps.config);
    return {
      /**
       * Deletes scratch tables from the run's own record (each step's `info.createdTables`, read
       * through the run's `status` query), never by labels. Step outputs are kept until the scratch
       * expiry (they are the cache of an identical run and the inputs of a rerun `from` a step) unless
       * `spec.delete_outputs`; everything else the run created goes.
       */
      async run(execution) {
        const status = await Context.current()
          .client.workflow.getHandle(execution.workflowId)
          .query(statusQuery);
        const deleteOutputs = execution.step.spec.delete_outputs;
        const doomed = tablesToDelete(status.steps, deps.config.SCRATCH_DATASET_PREFIX, deleteOutputs);
        const { deleted, missing } = await warehouse.deleteTables({
          tables: doomed.map(parseTableName),
        });
        return { info: { deleted, missing, keptOutputs: !deleteOutputs } };
      },
    };
  },
});

/**
 * The scratch tables a run created (each executed step's `info.createdTables`), minus the step
 * outputs unless `deleteOutputs`. Cached and reused steps created nothing, so an earlier run's
 * outputs are never touched; production datasets never match the scratch prefix.
 */
export function tablesToDelete(
  steps: Pick<StepStatus, 'outputs' | 'info'>[],
  scratchPrefix: string,
  deleteOutputs: boolean,
): string[] {
  const short = (name: string) => name.split('.').slice(-2).join('.');
  const doomed = new Set<string>();
  for (const step of steps) {
    const created = step.info?.createdTables;
    if (!Array.isArray(created)) continue;
    const outputs = new Set(Object.values(step.outputs).map(short));
    for (const name of created.map(String)) {
      if (!short(name).startsWith(scratchPrefix)) continue;
      if (deleteOutputs || !outputs.has(short(name))) doomed.add(name);
    }
  }
  return [...doomed];
}

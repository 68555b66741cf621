import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseTableName } from '../../../activities/bigquery/steps';
import { z } from 'zod';
import { artifactDir, readJson, type KindDeps, type ModelArtifact } from '../../../activities/kinds/common';
import { defineKind } from '../../../activities/kinds/kind';
import type { StepKindHandler } from '../../../activities/steps';

/** The physical name of a step output ends in `_<first 8 hex of its cache key>` (activities/plan.ts). */
const KEYED = /^(.*_)([0-9a-f]{8})$/;

export interface RetentionResult {
  /** Artifact folders and scratch tables deleted, by output family (`<dataset>.<step>_<output>_`). */
  deleted: Record<string, string[]>;
  kept: Record<string, string[]>;
}

/** A step output's physical name (`…_<key8>`). */
const keyedName = z.string().regex(KEYED, { error: 'expected a step output (a name ending in _<key8>)' });

/** The spec of `retention`. */
export const retentionSpec = z.strictObject({
  /** Outputs kept per family: the run's own, then the newest others. */
  keep: z.number().int().min(1),
  /** Artifact outputs (models, decisions, records) whose families are pruned. */
  artifacts: z.array(keyedName).default([]),
  /** Scratch-table outputs whose families are pruned. */
  tables: z.array(keyedName).default([]),
});

/** Which of `names` to keep: the current one, then the newest others, `keep` in all. */
function split(current: string, names: { name: string; time: number }[], keep: number) {
  const others = names.filter((n) => n.name !== current).sort((a, b) => b.time - a.time);
  const kept = [current, ...others.slice(0, keep - 1).map((n) => n.name)];
  return { kept, doomed: others.slice(keep - 1).map((n) => n.name) };
}

/**
 * `retention`: forced reruns (a run `from` a step, `rerunFrom`) compute new outputs under new names
 * and never overwrite earlier ones, so each would leave one more artifact folder and scratch table
 * behind (the seed's warning about Luigi's datetime parameter). After a run, this keeps the
 * `spec.keep` newest outputs of each listed output family: the run's own outputs and the newest
 * others (which an identical run may still find cached), and deletes the rest, with the training
 * folders (`<registry>/training/<id>`) of deleted models. The registry's published versions are
 * copies with a retention of their own (REGISTRY_KEEP_VERSIONS), so a deployed model survives.
 *
 * spec: `keep` (integer ≥ 1), `artifacts` (output names of artifact outputs: models, decisions,
 * records), `tables` (output names of scratch tables). Only names in scratch datasets are touched.
 */
export const retentionKind = defineKind({
  name: 'retention',
  version: '1',
  runs: { by: 'activity' },
  spec: retentionSpec,
  handler: (deps: KindDeps) => retentionHandler(deps),
});

function retentionHandler(deps: KindDeps): StepKindHandler<z.infer<typeof retentionSpec>> {
  const prefix = deps.config.SCRATCH_DATASET_PREFIX;
  const scratch = (name: string) => name.startsWith(prefix);
  const artifactsRoot = () => resolve(deps.registryDir, 'artifacts');

  async function pruneArtifacts(current: string, keep: number, result: RetentionResult): Promise<void> {
    const family = (KEYED.exec(current) as RegExpExecArray)[1] as string;
    if (!scratch(family) || !existsSync(artifactsRoot())) return;
    const siblings = readdirSync(artifactsRoot())
      .filter((name) => name.startsWith(family) && /^[0-9a-f]{8}$/.test(name.slice(family.length)))
      .map((name) => ({ name, time: statSync(join(artifactsRoot(), name)).mtimeMs }));
    const { kept, doomed } = split(current, siblings, keep);
    for (const name of doomed) {
      const training = readJson<ModelArtifact>(join(artifactDir(deps, name), 'result.json'))?.trainingId;
      if (training && /^[a-z0-9-]+$/.test(training)) {
        rmSync(resolve(deps.registryDir, 'training', training), { recursive: true, force: true });
      }
      rmSync(artifactDir(deps, name), { recursive: true, force: true });
    }
    result.kept[family] = kept;
    result.deleted[family] = doomed;
  }

  async function pruneTables(current: string, keep: number, result: RetentionResult): Promise<void> {
    const ref = parseTableName(current);
    const family = (KEYED.exec(ref.table) as RegExpExecArray)[1] as string;
    if (!scratch(ref.dataset)) return;
    const dataset = deps.bigquery.dataset(ref.dataset);
    const [tables] = await dataset.getTables();
    const siblings = await Promise.all(
      tables
        .map((table) => table.id ?? '')
        .filter((id) => id.startsWith(family) && /^[0-9a-f]{8}$/.test(id.slice(family.length)))
        .map(async (id) => {
          const [metadata] = await dataset.table(id).getMetadata();
          return { name: id, time: Number((metadata as { creationTime?: string }).creationTime ?? 0) };
        }),
    );
    const { kept, doomed } = split(ref.table, siblings, keep);
    for (const id of doomed) await dataset.table(id).delete({ ignoreNotFound: true });
    const qualified = (id: string) => `${ref.dataset}.${id}`;
    result.kept[`${ref.dataset}.${family}`] = kept.map(qualified);
    result.deleted[`${ref.dataset}.${family}`] = doomed.map(qualified);
  }

  return {
    async run(execution) {
      const { keep, artifacts, tables } = execution.step.spec;
      const result: RetentionResult = { deleted: {}, kept: {} };
      for (const name of artifacts) await pruneArtifacts(name, keep, result);
      for (const name of tables) await pruneTables(name, keep, result);
      return { info: { ...result } };
    },
  };
}

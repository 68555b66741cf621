import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { folderStore } from './folder';
import { gcsStore, isGcsUrl, parseGcsUrl, type GcsStoreOptions } from './gcs';
import { registryFailure as failure, RegistryErrorType, type RegistryStore } from './store';

export { RegistryErrorType } from './store';
export type { RegistryStore } from './store';

/** Where a version came from: the run, the model code's commit and the data cutoff. */
export interface Lineage {
  runId: string;
  commit: string;
  cutoff: string;
  [key: string]: string;
}

export interface ModelVersion {
  model: string;
  version: string;
  /** Publication order within the model (1, 2, …); retention keeps the highest. */
  seq: number;
  createdAt: string;
  /** The main model file's name inside the version folder. */
  modelFile: string;
  files: string[];
  metrics: Record<string, number>;
  lineage: Lineage;
  /**
   * The version's folder (absolute or relative to the worker's working directory, like the root), or
   * its `gs://` URL in a bucket; `localModelFile` gives a local copy of the model file either way.
   */
  path: string;
}

export interface RegisterInput {
  model: string;
  version: string;
  /** Local files to publish; the first is the model file unless `modelFile` names another. */
  files: string[];
  modelFile?: string;
  metrics: Record<string, number>;
  lineage: Lineage;
}

const namePattern = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const checkName = (kind: string, value: string) => {
  if (typeof value !== 'string' || !namePattern.test(value) || value.includes('..')) {
    throw failure(
      RegistryErrorType.INVALID_NAME,
      `invalid ${kind} name ${JSON.stringify(value)}: expected ${namePattern.source}`,
    );
  }
  return value;
};

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Rounds of re-reading an alias after a lost compare-and-set before an unconditional move gives up. */
const ALIAS_ATTEMPTS = 10;

/** Options of a registry in a bucket (the folder needs none). */
export type RegistryOptions = GcsStoreOptions;

/** The store behind a registry location: `gs://bucket/prefix` is Cloud Storage, anything else a folder. */
export const registryStore = (location: string, options: RegistryOptions = {}): RegistryStore =>
  isGcsUrl(location) ? gcsStore(parseGcsUrl(location), options) : folderStore(location);

/**
 * The model registry: `<root>/<model>/<version>/` holds the published files and `version.json`
 * (metrics, lineage {runId, commit, cutoff}); `<root>/<model>/aliases/<alias>.json` names the version
 * an alias points to (`production`). The root is a folder (the default) or `gs://bucket/prefix`
 * (Cloud Storage, the same layout): see store.ts, folder.ts and gcs.ts. Versions appear whole and
 * aliases move by compare-and-set, so a reader never sees a half state and no move is lost.
 */
export function createRegistryActivities(location: string, options: RegistryOptions = {}) {
  return registryOn(registryStore(location, options));
}

/** The registry's rules over any store (createRegistryActivities picks the store from a location). */
export function registryOn(store: RegistryStore) {
  const versionKey = (model: string, version: string) =>
    `${checkName('model', model)}/${checkName('version', version)}`;
  const aliasKey = (model: string, alias: string) =>
    `${checkName('model', model)}/aliases/${checkName('alias', alias)}.json`;

  async function readVersion(model: string, version: string): Promise<ModelVersion | null> {
    const key = versionKey(model, version);
    const stored = await store.read(`${key}/version.json`);
    if (!stored) return null;
    return { ...(JSON.parse(stored.text) as Omit<ModelVersion, 'path'>), path: store.locate(key) };
  }

  async function listVersions(model: string): Promise<ModelVersion[]> {
    const { folders } = await store.children(checkName('model', model));
    const versions = await Promise.all(
      folders
        .filter((name) => namePattern.test(name) && !name.includes('..') && name !== 'aliases')
        .map((name) => readVersion(model, name)),
    );
    return versions.filter((v): v is ModelVersion => v !== null).sort((a, b) => a.seq - b.seq);
  }

  async function readAlias(model: string, alias: string) {
    const stored = await store.read(aliasKey(model, alias));
    if (!stored) return null;
    return {
      version: (JSON.parse(stored.text) as { version: string }).version,
      generation: stored.generation,
    };
  }

  async function aliasesOf(model: string): Promise<Record<string, string>> {
    const { files } = await store.children(`${checkName('model', model)}/aliases`);
    const names = files
      .filter((name) => /^[^.].*\.json$/.test(name))
      .map((name) => name.slice(0, -5))
      .filter((name) => namePattern.test(name) && !name.includes('..'));
    const pairs = await Promise.all(
      names.map(async (name) => [name, (await readAlias(model, name))?.version] as const),
    );
    return Object.fromEntries(pairs.filter(([, version]) => version)) as Record<string, string>;
  }

  return {
    /**
     * Publishes a version (files, metrics, lineage). Publishing the same version again from the same
     * run returns it unchanged (a retried activity); from another run it is a conflict.
     */
    async registerModelVersion(input: RegisterInput): Promise<ModelVersion> {
      const key = versionKey(input.model, input.version);
      const conflict = (runId: string | undefined) =>
        failure(
          RegistryErrorType.VERSION_CONFLICT,
          `${input.model}/${input.version} was already published by run ${runId ?? '(being published)'}`,
        );
      const existing = await readVersion(input.model, input.version);
      if (existing) {
        if (existing.lineage.runId === input.lineage.runId) return existing;
        throw conflict(existing.lineage.runId);
      }
      for (const file of input.files) {
        if (!(await exists(file)))
          throw failure(
            RegistryErrorType.MISSING_FILE,
            `cannot publish ${input.model}/${input.version}: no file ${file}`,
          );
      }
      const names = input.files.map((file) => basename(file));
      const modelFile = input.modelFile ?? names[0];
      if (!modelFile || !names.includes(modelFile)) {
        throw failure(
          RegistryErrorType.MISSING_FILE,
          `${input.model}/${input.version}: model file ${modelFile} is not among the files`,
        );
      }
      if (names.some((name) => name === 'version.json' || name.startsWith('.'))) {
        throw failure(
          RegistryErrorType.INVALID_NAME,
          `${input.model}/${input.version}: a published file may not be named version.json nor start with a dot`,
        );
      }
      const seq = (await listVersions(input.model)).reduce((max, v) => Math.max(max, v.seq), 0) + 1;
      const meta: Omit<ModelVersion, 'path'> = {
        model: input.model,
        version: input.version,
        seq,
        createdAt: new Date().toISOString(),
        modelFile,
        files: names,
        metrics: input.metrics,
        lineage: input.lineage,
      };
      const published = await store.publish(
        key,
        input.files.map((source, i) => ({ source, name: names[i] as string })),
        `${JSON.stringify(meta, null, 2)}\n`,
        input.lineage.runId,
      );
      if (published.created) return { ...meta, path: store.locate(key) };
      // Lost a race: against a retry of ourselves (take the version), or against another run.
      const raced = await readVersion(input.model, input.version);
      if (raced?.lineage.runId === input.lineage.runId) return raced;
      throw conflict(raced?.lineage.runId ?? published.owner);
    },

    async getModelVersion(input: { model: string; version: string }): Promise<ModelVersion> {
      const version = await readVersion(input.model, input.version);
      if (!version)
        throw failure(RegistryErrorType.VERSION_NOT_FOUND, `no version ${input.model}/${input.version}`);
      return version;
    },

    /** Versions of a model, oldest first, with the aliases that point at each. */
    async listModelVersions(input: { model: string }): Promise<(ModelVersion & { aliases: string[] })[]> {
      const aliases = await aliasesOf(input.model);
      return (await listVersions(input.model)).map((v) => ({
        ...v,
        aliases: Object.keys(aliases)
          .filter((alias) => aliases[alias] === v.version)
          .sort(),
      }));
    },

    /** The version an alias points to, or null when the model has none (its first quarter). */
    async getModelAlias(input: { model: string; alias?: string }): Promise<ModelVersion | null> {
      const alias = await readAlias(input.model, input.alias ?? 'production');
      return alias ? readVersion(input.model, alias.version) : null;
    },

    /**
     * Moves an alias by compare-and-set on what was read (a bucket: the object's generation). With
     * `expectedCurrent` (a version, or null for "no alias yet") a move it did not see is an
     * ALIAS_CONFLICT, never overwritten; without, a lost race reads again and retries, so the record's
     * `previous` is always the version it really replaced (no lost update).
     */
    async setModelAlias(input: {
      model: string;
      alias?: string;
      version: string;
      expectedCurrent?: string | null;
    }): Promise<{ previous: string | null }> {
      const alias = input.alias ?? 'production';
      const key = aliasKey(input.model, alias);
      if (!(await readVersion(input.model, input.version))) {
        throw failure(
          RegistryErrorType.VERSION_NOT_FOUND,
          `cannot point ${input.model}@${alias} at missing version ${input.version}`,
        );
      }
      for (let attempt = 1; ; attempt++) {
        const current = await readAlias(input.model, alias);
        const previous = current?.version ?? null;
        if (previous === input.version) return { previous };
        if (input.expectedCurrent !== undefined && previous !== input.expectedCurrent) {
          throw failure(
            RegistryErrorType.ALIAS_CONFLICT,
            `${input.model}@${alias} points at ${previous ?? 'nothing'}, expected ${input.expectedCurrent ?? 'nothing'}`,
          );
        }
        const record = { version: input.version, previous, movedAt: new Date().toISOString() };
        if (await store.writeIf(key, `${JSON.stringify(record, null, 2)}\n`, current?.generation ?? null)) {
          return { previous };
        }
        if (attempt >= ALIAS_ATTEMPTS) {
          throw failure(
            RegistryErrorType.ALIAS_CONFLICT,
            `${input.model}@${alias}: lost ${attempt} compare-and-set rounds in a row to other movers`,
            false,
          );
        }
      }
    },

    /** Deletes all but the newest `keep` versions; a version any alias points to is never deleted. */
    async pruneModelVersions(input: { model: string; keep: number }): Promise<{ deleted: string[] }> {
      const pinned = new Set(Object.values(await aliasesOf(input.model)));
      const versions = await listVersions(input.model);
      const newest = new Set(versions.slice(-Math.max(1, input.keep)).map((v) => v.version));
      const doomed = versions.filter((v) => !newest.has(v.version) && !pinned.has(v.version));
      for (const v of doomed) await store.remove(versionKey(v.model, v.version));
      return { deleted: doomed.map((v) => v.version) };
    },
  };
}

/**
 * A local path of a version's model file, for programs that read files: the version's folder in a
 * folder registry, or a copy under `cacheDir/<model>/<version>-<hash of its publication>/`
 * downloaded once from a bucket (a version name published again after retention is another copy).
 */
export async function localModelFile(
  version: Pick<ModelVersion, 'model' | 'version' | 'modelFile' | 'path' | 'createdAt' | 'lineage'>,
  options: RegistryOptions & { cacheDir: string },
): Promise<string> {
  if (!isGcsUrl(version.path)) return join(version.path, version.modelFile);
  const target = join(
    options.cacheDir,
    checkName('model', version.model),
    `${checkName('version', version.version)}-${createHash('sha256')
      .update(`${version.createdAt}/${version.lineage.runId}`)
      .digest('hex')
      .slice(0, 12)}`,
    basename(version.modelFile),
  );
  if (await exists(target)) return target;
  const { bucket, prefix } = parseGcsUrl(version.path);
  await gcsStore({ bucket, prefix }, options).download(basename(version.modelFile), target);
  return target;
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;

/** The registry folder the worker uses: `REGISTRY_DIR`, or `<DATA_DIR>/registry`. */
export const registryRoot = (config: { REGISTRY_DIR: string; DATA_DIR: string }): string =>
  config.REGISTRY_DIR || join(config.DATA_DIR, 'registry');

/**
 * Where the model registry (versions and aliases) lives: `REGISTRY_URL` (`gs://bucket/prefix`) when
 * set, else the registry folder. Run artifacts and trainings' synced checkpoints stay in the folder.
 */
export const modelRegistryLocation = (config: {
  REGISTRY_URL?: string;
  REGISTRY_DIR: string;
  DATA_DIR: string;
}): string => config.REGISTRY_URL || registryRoot(config);

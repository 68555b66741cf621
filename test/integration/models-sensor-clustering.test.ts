import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateReadings, sensorDay, sensorIds } from '../../pipelines/sensor-clustering/synthetic/generate';
import { FEATURE_NAMES } from '../../pipelines/sensor-clustering/schema';
import { testTempDir } from '../harness/paths';

const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
const python = join(root, '.venv', 'bin', 'python');
const script = (name: string) => join(root, 'models', 'sensor-clustering', name);
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the sensor models (scikit-learn from the pinned .venv) on synthetic hive sensors', () => {
  let dir: string;
  const sensors = sensorIds(24);

  beforeAll(async () => {
    dir = testTempDir('sensor-models');
    const { readings } = generateReadings({ seed: 5, sensors: 24, days: 2 });
    writeFileSync(join(dir, 'readings.ndjson'), readings.map((row) => JSON.stringify(row)).join('\n'));
    await run(python, [
      script('features.py'),
      'featurize',
      '--data',
      join(dir, 'readings.ndjson'),
      '--out',
      join(dir, 'features.ndjson'),
    ]);
  }, 60_000);

  it('regenerates a sensor-day identically (an unchanged partition stays cached)', () => {
    const sensor = sensors[3] as (typeof sensors)[number];
    expect(sensorDay(5, sensor, '2026-11-02')).toEqual(sensorDay(5, sensor, '2026-11-02'));
    expect(sensorDay(5, sensor, '2026-11-02')).not.toEqual(sensorDay(6, sensor, '2026-11-02'));
  });

  it('computes one feature row per sensor-day with the columns the warehouse schema declares', () => {
    const rows = lines(join(dir, 'features.ndjson'));
    expect(rows).toHaveLength(48);
    expect(Object.keys(rows[0] as object).sort()).toEqual(
      ['date', 'rows', 'sensor_id', ...FEATURE_NAMES].sort(),
    );
    expect(rows.every((row) => row.rows === 48)).toBe(true);
  });

  it('trains KMeans under the training contract, resumes from its checkpoint, and clusters by behaviour', async () => {
    const env = { ...process.env, RUN_DIR: join(dir, 'run'), KMEANS_RESTARTS: '4', FAIL_AT_STEP: '2' };
    const crashed = await run(
      python,
      [script('cluster.py'), 'train', '--data', join(dir, 'features.ndjson')],
      {
        env,
      },
    ).catch((error: { code: number }) => error);
    expect((crashed as { code: number }).code).toBe(3);
    await run(python, [script('cluster.py'), 'train', '--data', join(dir, 'features.ndjson')], {
      env: { ...env, FAIL_AT_STEP: '-1' },
    });
    const metrics = lines(join(dir, 'run', 'metrics.jsonl'));
    expect(metrics.map((line) => line.step)).toEqual([1, 2, 3, 4]);
    const model = JSON.parse(readFileSync(join(dir, 'run', 'output', 'model.json'), 'utf8')) as {
      metrics: { silhouette: number };
    };
    expect(model.metrics.silhouette).toBeGreaterThan(0.5);

    const modelFile = join(dir, 'run', 'output', 'model.json');
    await run(python, [
      script('cluster.py'),
      'predict',
      '--model',
      modelFile,
      '--data',
      join(dir, 'features.ndjson'),
      '--out',
      join(dir, 'clusters.ndjson'),
    ]);
    const byProfile = new Map<string, Set<number>>();
    for (const row of lines(join(dir, 'clusters.ndjson'))) {
      const profile = sensors.find((s) => s.id === row.sensor_id)?.profile as string;
      byProfile.set(profile, (byProfile.get(profile) ?? new Set()).add(Number(row.cluster)));
    }
    // Each behaviour is one cluster, and the four behaviours are four different clusters.
    expect([...byProfile.values()].every((clusters) => clusters.size === 1)).toBe(true);
    expect(new Set([...byProfile.values()].map((clusters) => [...clusters][0])).size).toBe(4);

    const { stdout } = await run(python, [
      script('cluster.py'),
      'evaluate',
      '--model',
      modelFile,
      '--data',
      join(dir, 'features.ndjson'),
    ]);
    const scores = JSON.parse(stdout.trim()) as Record<string, number>;
    expect(scores.rows).toBe(48);
    expect(scores.calinski_harabasz).toBeGreaterThan(10);
    expect(scores.davies_bouldin).toBeLessThan(1);
  }, 90_000);

  it('rejects a model file of another kind, naming it', async () => {
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ kind: 'linear' }));
    const failed = await run(python, [
      script('cluster.py'),
      'evaluate',
      '--model',
      join(dir, 'other.json'),
      '--data',
      join(dir, 'features.ndjson'),
    ]).catch((error: { code: number; stderr: string }) => error);
    expect((failed as { code: number }).code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain('not a sensor clustering model');
  }, 30_000);
});

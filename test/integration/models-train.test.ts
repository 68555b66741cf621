import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MODEL_FEATURES, MODEL_LABELS, PREDICTION_SCHEMAS } from '../../pipelines/visits-scaling/schema';
import { testTempDir } from '../harness/paths';

const run = promisify(execFile);
const modelsDir = resolve(__dirname, '..', '..', 'models');
// No __pycache__ folders inside the repository's models/.
const pythonEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

/** The four example models (folder → registry name), with the features the warehouse schema lists. */
const names = {
  'visits-share': 'visits_share',
  quality: 'quality',
  trend: 'trend',
  'real-visits': 'real_visits',
} as const;
const ids = {
  'visits-share': { poi_id: 0, met_area: 0 },
  quality: { met_area: 0, day: '2026-01-01' },
  trend: { met_area: 0, day: '2026-01-01' },
  'real-visits': { poi_id: 0, met_area: 0, day: '2026-01-01' },
};
const models = Object.fromEntries(
  (Object.keys(names) as (keyof typeof names)[]).map((folder) => [
    folder,
    { features: MODEL_FEATURES[names[folder]], label: MODEL_LABELS[names[folder]], ids: ids[folder] },
  ]),
) as unknown as Record<
  keyof typeof names,
  { features: readonly string[]; label: string; ids: Record<string, unknown> }
>;

/** Deterministic tiny data: label = 1 + Σ (i+1)·x_i + small noise; every fifth row is validation. */
function tinyData(model: keyof typeof models, rows = 120): string {
  const spec = models[model];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row: Record<string, unknown> = { ...spec.ids };
    let label = 1;
    spec.features.forEach((feature, i) => {
      const x = next();
      row[feature] = x;
      label += (i + 1) * x;
    });
    row[spec.label] = label + (next() - 0.5) * 0.01;
    if (model === 'quality') row.split = r % 5 === 4 ? 'validation' : 'train';
    lines.push(JSON.stringify(row));
  }
  return `${lines.join('\n')}\n`;
}

interface Metric {
  step: number;
  loss: number;
  val_loss: number;
  ts: number;
}

async function train(model: string, runDir: string, data: string, env: Record<string, string> = {}) {
  try {
    const { stdout } = await run(
      'python3',
      [join(modelsDir, model, 'train.py'), 'train', '--data', data, '--predict-data', data],
      {
        cwd: runDir,
        env: {
          ...pythonEnv,
          RUN_DIR: runDir,
          TRAIN_SECONDS: '60',
          TRAIN_STEPS: '60',
          CHECKPOINT_EVERY: '10',
          ...env,
        },
      },
    );
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: `${failed.stdout}${failed.stderr}` };
  }
}

const metricsOf = (runDir: string): Metric[] =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Metric);

describe.each(Object.keys(models) as (keyof typeof models)[])(
  'example model %s (python3, no dependencies)',
  (model) => {
    it('trains: the loss goes down, metrics follow the contract, checkpoints and model are written', async () => {
      const dir = testTempDir(`model-${model}`);
      const data = join(dir, 'data.ndjson');
      writeFileSync(data, tinyData(model));
      const result = await train(model, dir, data);
      expect(result.code, result.stdout).toBe(0);
      const metrics = metricsOf(dir);
      expect(metrics.length).toBe(12);
      expect(Object.keys(metrics[0] as Metric).sort()).toEqual(['loss', 'step', 'ts', 'val_loss']);
      expect((metrics.at(-1) as Metric).loss).toBeLessThan((metrics[0] as Metric).loss / 2);
      expect((metrics.at(-1) as Metric).val_loss).toBeLessThan((metrics[0] as Metric).val_loss);
      expect(readdirSync(join(dir, 'checkpoints'))).toEqual([
        'ckpt-00000040.json',
        'ckpt-00000050.json',
        'ckpt-00000060.json',
      ]);
      const final = JSON.parse(readFileSync(join(dir, 'output', 'model.json'), 'utf8')) as {
        step: number;
        features: string[];
      };
      expect(final.step).toBe(60);
      expect(final.features).toEqual(models[model].features);
      const predictions = readFileSync(join(dir, 'output', 'predictions.ndjson'), 'utf8')
        .trim()
        .split('\n');
      expect(predictions).toHaveLength(120);
    });

    it('resumes from its latest checkpoint after a crash and ends where an uninterrupted run ends', async () => {
      const dir = testTempDir(`model-${model}-resume`);
      const data = join(dir, 'data.ndjson');
      writeFileSync(data, tinyData(model));
      const crashed = await train(model, dir, data, { FAIL_AT_STEP: '33' });
      expect(crashed.code).toBe(3);
      expect(existsSync(join(dir, 'output', 'model.json'))).toBe(false);
      const resumed = await train(model, dir, data);
      expect(resumed.code, resumed.stdout).toBe(0);
      expect(resumed.stdout).toContain('at step 33');
      expect(metricsOf(dir).map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);

      const straight = testTempDir(`model-${model}-straight`);
      expect((await train(model, straight, data)).code).toBe(0);
      const weights = (path: string) =>
        (JSON.parse(readFileSync(join(path, 'output', 'model.json'), 'utf8')) as { weights: number[] })
          .weights;
      expect(weights(dir)).toEqual(weights(straight));
    });

    it('predicts with a trained model file', async () => {
      const dir = testTempDir(`model-${model}-predict`);
      const data = join(dir, 'data.ndjson');
      writeFileSync(data, tinyData(model, 20));
      expect((await train(model, dir, data, { TRAIN_STEPS: '5' })).code).toBe(0);
      const out = join(dir, 'predicted.ndjson');
      await run(
        'python3',
        [
          join(modelsDir, model, 'train.py'),
          'predict',
          '--model',
          join(dir, 'output', 'model.json'),
          '--data',
          data,
          '--out',
          out,
        ],
        { env: pythonEnv },
      );
      const rows = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(rows).toHaveLength(20);
      expect(Object.keys(rows[0] as object)).toEqual([...Object.keys(models[model].ids), expect.any(String)]);
    });

    it('evaluates a model on labelled rows, so a trained challenger beats an untrained champion', async () => {
      const dir = testTempDir(`model-${model}-evaluate`);
      const data = join(dir, 'data.ndjson');
      writeFileSync(data, tinyData(model));
      expect((await train(model, dir, data)).code).toBe(0);
      const champion = join(dir, 'champion.json');
      const spec = models[model];
      writeFileSync(
        champion,
        JSON.stringify({
          features: spec.features,
          label: spec.label,
          weights: spec.features.map(() => 0),
          bias: 0,
          means: spec.features.map(() => 0),
          stds: spec.features.map(() => 1),
          step: 0,
        }),
      );
      const evaluate = async (modelFile: string) => {
        const { stdout } = await run(
          'python3',
          [join(modelsDir, model, 'train.py'), 'evaluate', '--model', modelFile, '--data', data],
          { env: pythonEnv },
        );
        return JSON.parse(stdout) as { rows: number; mse: number };
      };
      const challenger = await evaluate(join(dir, 'output', 'model.json'));
      expect(challenger.rows).toBe(120);
      expect(challenger.mse).toBeLessThan((await evaluate(champion)).mse);
    });

    it('declares the features, label and prediction columns the warehouse schema lists', async () => {
      const { stdout } = await run(
        'python3',
        [
          '-c',
          'import importlib.util, json, sys; s = importlib.util.spec_from_file_location("m", sys.argv[1]); m = importlib.util.module_from_spec(s); s.loader.exec_module(m); print(json.dumps(m.SPEC))',
          join(modelsDir, model, 'train.py'),
        ],
        { env: pythonEnv },
      );
      const spec = JSON.parse(stdout) as {
        name: string;
        features: string[];
        label: string;
        id_columns: string[];
        output: string;
      };
      expect(spec.name).toBe(names[model]);
      expect(spec.features).toEqual(models[model].features);
      expect(spec.label).toBe(models[model].label);
      expect([...spec.id_columns, spec.output].sort()).toEqual(
        PREDICTION_SCHEMAS[names[model]].map((f) => f.name).sort(),
      );
    });

    it('refuses data that lacks one of its columns, naming it, instead of training on zeros', async () => {
      const dir = testTempDir(`model-${model}-columns`);
      const data = join(dir, 'data.ndjson');
      const feature = models[model].features[0] as string;
      const rows = tinyData(model, 10)
        .trim()
        .split('\n')
        .map((line) => {
          const row = JSON.parse(line) as Record<string, unknown>;
          delete row[feature];
          return JSON.stringify(row);
        });
      writeFileSync(data, `${rows.join('\n')}\n`);
      const result = await train(model, dir, data);
      expect(result.code).toBe(2);
      expect(result.stdout).toContain(`lacks column(s) ${feature}`);
    });
  },
);

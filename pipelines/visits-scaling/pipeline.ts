import { definePipeline, param, type JsonObject, type StepOptions } from '../core';
import { PREDICTION_SCHEMAS } from './schema';

const TEMPLATES = ['cpu-python-template-prod', 'tensorflow-template-prod'];
const source = (table: string) => `{{source_dataset}}.${table}`;
const sources = {
  pois: source('pois'),
  visits: source('poi_visits_daily'),
  clusters: source('clusters_daily'),
};

/** The trainOnVm settings every model shares; `vm` and extra env differ per model. */
function training(model: string, script: string, vm: JsonObject, env: JsonObject = {}): JsonObject {
  return {
    model,
    script,
    data: `{{steps.${model}.data.table}}`,
    // Names the model's registry version (`<cutoff>-<key8>`).
    cutoff: '{{cutoff}}',
    vm,
    env: { TRAIN_SECONDS: '{{train_seconds}}', TRAIN_STEPS: '{{train_steps}}', ...env },
    maxDuration: '{{max_training_duration}}',
    policy: { maxRetries: '{{train_retries}}' },
    monitor: { pollInterval: '{{monitor_poll_interval}}', heartbeatTimeout: '{{monitor_heartbeat_timeout}}' },
  };
}

/** The four models: registry name and program (models/<folder>/train.py). */
const MODELS = [
  { name: 'visits_share', script: 'models/visits-share/train.py' },
  { name: 'quality', script: 'models/quality/train.py' },
  { name: 'trend', script: 'models/trend/train.py' },
  { name: 'real_visits', script: 'models/real-visits/train.py' },
];
/** The default relative margin of evaluation: a challenger within 2 % of its champion's MSE ties. */
const DEFAULT_MARGIN = 0.02;
/** `<model>_margin`, one per model: the relative MSE margin within which challenger and champion tie. */
const marginParameters = Object.fromEntries(
  MODELS.map((m) => [
    `${m.name}_margin`,
    param.number({
      default: DEFAULT_MARGIN,
      // A wider margin promotes worse models: a weakened gate, so admins only.
      privileged: true,
      description: `${m.name}: a challenger whose held-out MSE is ≤ (1 + this) × the champion's ties and is promoted`,
    }),
  ]),
);
/** Models whose prediction tables replace production's (real visits feeds poi_visits_scaled's gap fill). */
const PROMOTED = ['visits_share', 'quality', 'trend'];

/** A SQL file of this package, as a path from the repository root. */
const sqlFile = (name: string) => `pipelines/visits-scaling/sql/${name}.sql`;

const trendParams = {
  cutoff: '{{cutoff}}',
  from: '{{history_start}}',
  origin: '{{trend_origin}}',
  holdout_days: '{{holdout_days}}',
};

const repo = { url: '{{models_repo}}', ref: '{{models_ref}}' };
const trainStep = (after: string[], spec: JsonObject): StepOptions => ({
  kind: 'train',
  after,
  spec,
  repo,
  outputs: ['model'],
  cache: true,
  onFailure: 'wait',
});
const predictStep = (
  model: keyof typeof PREDICTION_SCHEMAS,
  script: string,
  data: string,
  after: string[],
): StepOptions => ({
  kind: 'predict',
  after: [`${model}.train`, ...after],
  spec: {
    model,
    script,
    artifact: `{{steps.${model}.train.model}}`,
    data,
    schema: PREDICTION_SCHEMAS[model].map((field) => ({ ...field })),
  },
  // Predict runs the model program at the commit the training ran (the plan pins it).
  repo,
  outputs: ['table'],
  cache: true,
});
/** A query of this package, read at the pinned commit (its text is in the step's cache key). */
const sql = (
  file: string,
  tables: JsonObject,
  params: JsonObject,
  after: string[],
  extra: JsonObject = {},
): StepOptions => ({
  kind: 'sql',
  after,
  spec: { sql: sqlFile(file), tables, params, ...extra },
  repo,
  outputs: ['table'],
  cache: true,
});

/**
 * Seed 000, the quarterly visits-scaling retraining (DESIGN.md §7.1): per model data (SQL) → train
 * (VM) → predict; real visits after the other three; champion/challenger evaluation; optional
 * approval; promotion of models and tables, all or nothing; gap fill of `poi_visits_scaled` and of the
 * promoted quality and trend tables; cleanup.
 * docs/visits-scaling.md explains each step and parameter.
 */
export const visitsScalingPipeline = definePipeline('visits-scaling', {
  description: 'quarterly retraining of visits share, quality, trend and real visits (seed 000)',
  parameters: {
    source_dataset: param.string({ default: 'visits_source', resource: 'dataset' }),
    production_dataset: param.string({ default: 'visits_production', resource: 'dataset' }),
    history_start: param.date({ default: '2000-01-01', description: 'first day of data read' }),
    predict_until: param.date({
      default: '2099-12-31',
      description:
        'last day predicted: of the promoted prediction tables, and of the gap fill (else the source’s last day)',
    }),
    trend_origin: param.date({ default: '2000-01-01', description: 'day t = 0 of the trend model' }),
    visits_share_vm_template: param.string({ default: TEMPLATES[0], choices: TEMPLATES }),
    trend_vm_template: param.string({ default: TEMPLATES[0], choices: TEMPLATES }),
    real_visits_vm_template: param.string({ default: TEMPLATES[0], choices: TEMPLATES }),
    quality_instance: param.string({
      default: 'quality-notebook',
      resource: 'instance',
      description: 'persistent instance',
    }),
    quality_instance_image: param.string({
      default: TEMPLATES[1],
      choices: TEMPLATES,
      description: 'image the persistent instance is created from when it does not exist (local only)',
    }),
    quality_notebook_data_machine: param.string({
      default: 'n1-highmem-8',
      resource: 'machine-type',
      description: 'seed 000 notebook data machine; read by no step (the features are BigQuery SQL here)',
    }),
    quality_notebook_train_machine_config: param.string({
      default: 'n1-standard-8',
      resource: 'machine-type',
    }),
    quality_notebook_train_accelerator_config: param.string({
      default: 'nvidia-tesla-t4:1',
      resource: 'accelerator',
      description: 'type:count, empty for none',
    }),
    quality_min_training: param.duration({
      default: '5 hours',
      description: 'seed 000: a quality training that ran this long is valid with its latest checkpoint',
    }),
    train_seconds: param.number({ default: 21_600, description: 'training time budget (TRAIN_SECONDS)' }),
    train_steps: param.number({ default: 100_000, description: 'training steps (TRAIN_STEPS)' }),
    train_retries: param.number({
      default: 2,
      description: 'retries from the latest checkpoint before a training asks an operator',
    }),
    max_training_duration: param.duration({ default: '12 hours' }),
    monitor_poll_interval: param.duration({ default: '15 seconds' }),
    monitor_heartbeat_timeout: param.duration({
      default: '90 seconds',
      description:
        'a silent monitor is retried after this; live progress updates at most every 0.8 × this (max 60 s)',
    }),
    trend_fail_at_step: param.number({
      default: -1,
      description: 'fault drill: the trend trainer exits at this step (FAIL_AT_STEP); -1 never',
    }),
    holdout_days: param.number({
      default: 28,
      description:
        'the days up to the cutoff held out of training (visits share, trend, real visits); evaluate scores on them',
    }),
    ...marginParameters,
    require_approval: param.boolean({ default: false, privileged: true }),
    cleanup_outputs: param.boolean({
      default: false,
      description: 'cleanup also deletes the step output tables (else they stay until the scratch expiry)',
    }),
    models_repo: param.string({
      default: '.',
      resource: 'models-repo',
      description:
        'git repository holding models/ and this pipeline (its SQL is read there too); one of MODELS_REPOS',
    }),
    models_ref: param.string({ default: 'HEAD' }),
  },
})
  .step('prepare', {
    kind: 'prepare',
    spec: { sources: Object.values(sources).map((table) => ({ table })) },
    outputs: ['dataset'],
    cache: true,
  })
  // Visits share.
  .step(
    'visits_share.data',
    sql('visits_share_data', sources, { cutoff: '{{cutoff}}', holdout_days: '{{holdout_days}}' }, [
      'prepare',
    ]),
  )
  .step('visits_share.holdout', holdout('visits_share'))
  .step(
    'visits_share.train',
    trainStep(
      ['visits_share.data'],
      training('visits_share', 'models/visits-share/train.py', {
        machineImage: '{{visits_share_vm_template}}',
      }),
    ),
  )
  .step(
    'visits_share.predict',
    // The held-out rows are every POI open at the cutoff, with features as of the cutoff.
    predictStep('visits_share', 'models/visits-share/train.py', '{{steps.visits_share.holdout.table}}', [
      'visits_share.holdout',
    ]),
  )
  // Quality: labels (seed 000's smoothing) and features, joined into training rows.
  .step('quality.labels', sql('quality_labels', sources, { cutoff: '{{cutoff}}' }, ['prepare']))
  .step(
    'quality.features',
    sql('quality_features', sources, { from: '{{history_start}}', to: '{{predict_until}}' }, ['prepare'], {
      as_of: '{{cutoff}}',
    }),
  )
  .step(
    'quality.data',
    sql(
      'quality_data',
      { labels: '{{steps.quality.labels.table}}', features: '{{steps.quality.features.table}}' },
      {},
      ['quality.labels', 'quality.features'],
    ),
  )
  // Seed 000: met area 11 validates (split = 'validation'); it is quality's held-out set.
  .step('quality.holdout', holdout('quality'))
  .step(
    'quality.train',
    trainStep(['quality.data'], {
      ...training('quality', 'models/quality/train.py', {
        name: '{{quality_instance}}',
        persistent: true,
        machineImage: '{{quality_instance_image}}',
        machineType: '{{quality_notebook_train_machine_config}}',
        accelerator: '{{quality_notebook_train_accelerator_config}}',
      }),
      policy: { acceptCheckpointAfter: '{{quality_min_training}}', maxRetries: '{{train_retries}}' },
    }),
  )
  .step(
    'quality.predict',
    predictStep('quality', 'models/quality/train.py', '{{steps.quality.features.table}}', [
      'quality.features',
    ]),
  )
  // Trend: trained up to the cutoff, predicted for every day.
  .step('trend.data', sql('trend_data', sources, { ...trendParams, to: '{{cutoff}}' }, ['prepare']))
  .step('trend.holdout', holdout('trend'))
  .step(
    'trend.features',
    sql('trend_data', sources, { ...trendParams, to: '{{predict_until}}' }, ['prepare']),
  )
  .step(
    'trend.train',
    trainStep(
      ['trend.data'],
      training(
        'trend',
        'models/trend/train.py',
        { machineImage: '{{trend_vm_template}}' },
        {
          FAIL_AT_STEP: '{{trend_fail_at_step}}',
        },
      ),
    ),
  )
  .step(
    'trend.predict',
    predictStep('trend', 'models/trend/train.py', '{{steps.trend.features.table}}', ['trend.features']),
  )
  // Real visits: the other three models' new predictions are its features.
  .step(
    'real_visits.data',
    sql(
      'real_visits_data',
      realVisitsTables(),
      {
        from: '{{history_start}}',
        to: '{{cutoff}}',
        cutoff: '{{cutoff}}',
        panel_only: true,
        holdout_days: '{{holdout_days}}',
      },
      ['visits_share.predict', 'quality.predict', 'trend.predict'],
    ),
  )
  .step('real_visits.holdout', holdout('real_visits'))
  .step(
    'real_visits.train',
    trainStep(
      ['real_visits.data'],
      training('real_visits', 'models/real-visits/train.py', { machineImage: '{{real_visits_vm_template}}' }),
    ),
  )
  .step('evaluate', {
    kind: 'evaluate',
    // Champion and challenger are scored by the same program, at the pinned commit, on the same
    // held-out rows, which the challenger never trained on.
    repo,
    after: MODELS.flatMap((m) => [`${m.name}.holdout`, `${m.name}.train`]),
    spec: {
      models: MODELS.map((m) => ({
        model: m.name,
        script: m.script,
        artifact: `{{steps.${m.name}.train.model}}`,
        data: `{{steps.${m.name}.holdout.table}}`,
        margin: `{{${m.name}_margin}}`,
      })),
    },
    outputs: ['decision'],
    cache: true,
  })
  .step('promote', {
    kind: 'promote',
    after: ['evaluate', ...MODELS.map((m) => `${m.name}.train`), ...PROMOTED.map((m) => `${m}.predict`)],
    approval: '{{require_approval}}',
    // One promotion (and one gap fill) of the production dataset at a time, across runs.
    exclusive: 'production:{{production_dataset}}',
    spec: {
      decision: '{{steps.evaluate.decision}}',
      models: MODELS.map((m) => ({ model: m.name, artifact: `{{steps.${m.name}.train.model}}` })),
      tables: PROMOTED.map((m) => ({
        source: `{{steps.${m}.predict.table}}`,
        target: `{{production_dataset}}.${m}_predictions`,
      })),
    },
    outputs: ['record'],
    cache: true,
  })
  .step('gapfill', {
    kind: 'gapfill',
    // At promotion, not at the run's start: the days from the cutoff + 1 through the last day in the
    // source now, predicted by the promoted models with features as of each day, written all or nothing
    // to poi_visits_scaled and the promoted quality and trend prediction tables.
    after: ['promote'],
    exclusive: 'production:{{production_dataset}}',
    spec: {
      promotion: '{{steps.promote.record}}',
      target: '{{production_dataset}}.poi_visits_scaled',
      cutoff: '{{cutoff}}',
      until: '{{predict_until}}',
      sources: { pois: sources.pois, visits: sources.visits, clusters: sources.clusters },
      models: Object.fromEntries(
        MODELS.map((m) => [m.name, { artifact: `{{steps.${m.name}.train.model}}`, script: m.script }]),
      ),
      trend: { origin: '{{trend_origin}}', holdout_days: '{{holdout_days}}' },
      sql: {
        visits_share: sqlFile('gap_visits_share_features'),
        quality: sqlFile('quality_features'),
        trend: sqlFile('trend_data'),
        real_visits: sqlFile('gap_real_visits'),
        write: sqlFile('poi_visits_scaled_gapfill'),
      },
      // The promoted quality and trend tables (per met area and day) get the same days, in the same
      // promotion: a reader of production after the run finds every table through the same day.
      prediction_tables: Object.fromEntries(
        (['quality', 'trend'] as const).map((m) => [
          m,
          {
            target: `{{production_dataset}}.${m}_predictions`,
            write: sqlFile(`${m}_predictions_gapfill`),
          },
        ]),
      ),
    },
    // The promoted models run at the commit they were trained at (the plan pins it).
    repo,
    outputs: ['record'],
    cache: true,
  })
  .step('cleanup', { kind: 'cleanup', after: ['gapfill'], spec: { delete_outputs: '{{cleanup_outputs}}' } })
  .build();

/** The held-out rows of a model's data (split = 'validation'): what evaluate scores on. */
function holdout(model: string): StepOptions {
  return sql('holdout', { data: `{{steps.${model}.data.table}}` }, {}, [`${model}.data`]);
}

function realVisitsTables(): JsonObject {
  return {
    visits: source('poi_visits_daily'),
    panel: source('real_visits_panel'),
    visits_share_predictions: '{{steps.visits_share.predict.table}}',
    quality_predictions: '{{steps.quality.predict.table}}',
    trend_predictions: '{{steps.trend.predict.table}}',
  };
}

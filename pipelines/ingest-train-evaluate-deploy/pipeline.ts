import { definePipeline, param } from '../core';
import { evaluateStep, modelsRepoParams, promoteStep, trainStep } from '../core/model-steps';
import { MODEL_NAME, RECORDS_TABLE, SOURCE_DATASET } from './schema';

const TEMPLATES = ['cpu-python-template-prod', 'tensorflow-template-prod'];
const SCRIPT = 'models/house-prices/train.py';

/**
 * Seed 003 (a Luigi batch app): ingest → train → evaluate → deploy only if better than the deployed
 * model, then retention. Luigi's rule comes from the engine: every output is named from a cache key
 * of its inputs, parameters and code, so a run with the same parameters finds every finished output
 * (`cached`) and a run after a crash in `evaluate` computes only `evaluate` and `deploy`. Forced
 * reruns make new outputs; `retention` keeps the newest `keep_artifacts` of each. See README.md.
 */
export const ingestTrainEvaluateDeployPipeline = definePipeline('ingest-train-evaluate-deploy', {
  description: 'ingest → train (MLP) → evaluate on a held-out split → deploy if better (seed 003)',
  parameters: {
    source_dataset: param.string({ default: SOURCE_DATASET, description: 'dataset of the staging records' }),
    holdout_percent: param.number({
      default: 20,
      // 0 leaves evaluate nothing to score and 100 leaves train nothing: refused when the run is planned.
      min: 1,
      max: 90,
      description: 'share of records held out for evaluate, in percent (1–90)',
    }),
    l2_regularization: param.number({ default: 0.0001, description: "MLPRegressor's alpha (L2 penalty)" }),
    epochs: param.number({ default: 200, description: 'passes over the training rows' }),
    hidden_units: param.number({ default: 32, description: 'units of the hidden layer' }),
    vm_template: param.string({ default: TEMPLATES[0], choices: TEMPLATES }),
    max_training_duration: param.string({ default: '2 hours' }),
    monitor_poll_interval: param.string({ default: '15 seconds' }),
    monitor_heartbeat_timeout: param.string({ default: '90 seconds' }),
    deploy_margin: param.number({
      default: 0,
      // A wider margin promotes worse models: a weakened gate, so admins only.
      privileged: true,
      description:
        'deploy when the new held-out MSE ≤ (1 + this) × the deployed model’s (0: only when not worse)',
    }),
    keep_artifacts: param.number({
      default: 3,
      description: 'outputs kept per step by retention (this run’s and the newest others)',
    }),
    ...modelsRepoParams(),
  },
})
  .step('ingest', {
    kind: 'sql',
    spec: {
      sql: 'pipelines/ingest-train-evaluate-deploy/sql/ingest.sql',
      tables: { records: `{{source_dataset}}.${RECORDS_TABLE}` },
      params: { cutoff: '{{cutoff}}', holdout_percent: '{{holdout_percent}}' },
    },
    outputs: ['table'],
    cache: true,
  })
  .step(
    'train',
    trainStep({
      after: ['ingest'],
      model: MODEL_NAME,
      script: SCRIPT,
      data: '{{steps.ingest.table}}',
      cutoff: '{{cutoff}}',
      vm: { machineImage: '{{vm_template}}' },
      env: {
        L2_REGULARIZATION: '{{l2_regularization}}',
        EPOCHS: '{{epochs}}',
        HIDDEN_UNITS: '{{hidden_units}}',
      },
      maxDuration: '{{max_training_duration}}',
      policy: { maxRetries: 0 },
      monitor: {
        pollInterval: '{{monitor_poll_interval}}',
        heartbeatTimeout: '{{monitor_heartbeat_timeout}}',
      },
    }),
  )
  // The deployed model and the new one are scored by the same program on the same held-out rows.
  .step(
    'evaluate',
    evaluateStep({
      after: ['ingest', 'train'],
      model: MODEL_NAME,
      script: SCRIPT,
      data: '{{steps.ingest.table}}',
      margin: '{{deploy_margin}}',
    }),
  )
  .step('deploy', promoteStep({ after: ['evaluate', 'train'], model: MODEL_NAME }))
  .step('retention', {
    kind: 'retention',
    after: ['deploy'],
    spec: {
      keep: '{{keep_artifacts}}',
      artifacts: ['{{steps.train.model}}', '{{steps.evaluate.decision}}', '{{steps.deploy.record}}'],
      tables: ['{{steps.ingest.table}}'],
    },
  })
  .build();

import { definePipeline, param } from '../core';
import { evaluateStep, modelsRepo, modelsRepoParams, promoteStep, trainStep } from '../core/model-steps';
import { MODEL_NAME, TABLES } from './schema';

const TEMPLATES = ['cpu-python-template-prod', 'tensorflow-template-prod'];
const FEATURES_SCRIPT = 'models/sensor-clustering/features.py';
const CLUSTER_SCRIPT = 'models/sensor-clustering/cluster.py';

/**
 * Seed 001, daily: the sensors present on the date (the run's cutoff; the run key is the date, so one
 * run per day), the feature model per sensor as a map step (an unchanged sensor is cached), clustering
 * inference on each finished batch of sensors (partial results: 20 %, 40 %, …) and over all of them,
 * with the model version asked for; results in a table (date, sensor, cluster, model version), metrics
 * with the run. pipelines/sensor-clustering/README.md explains the triggers and each step.
 */
export const sensorClusteringPipeline = definePipeline('sensor-clustering', {
  description: 'daily per-sensor features and clustering inference (seed 001)',
  parameters: {
    readings_table: param.string({
      default: TABLES.readings,
      description: 'where sensor readings land, one (date, sensor_id) partition per sensor and day',
    }),
    features_table: param.string({
      default: TABLES.features,
      description: 'features of every sensor-day (retraining reads it)',
    }),
    results_table: param.string({
      default: TABLES.results,
      description: 'date, sensor, cluster, model version',
    }),
    model_version: param.string({
      default: 'production',
      description: 'registry version of the clustering model, or the production alias',
    }),
    ...modelsRepoParams(),
  },
})
  .step('sensors', {
    kind: 'sensor_list',
    spec: { readings: '{{readings_table}}', date: '{{cutoff}}' },
    description: 'the sensors whose readings landed on the date, each with a fingerprint of its readings',
  })
  .step('features', {
    kind: 'sensor_feature',
    after: ['sensors'],
    spec: {
      readings: '{{readings_table}}',
      features: '{{features_table}}',
      date: '{{cutoff}}',
      sensor: '{{item}}',
      script: FEATURES_SCRIPT,
    },
    repo: modelsRepo,
    outputs: ['table'],
    cache: true,
    map: {
      forEach: { step: 'sensors', field: 'sensors' },
      maxConcurrency: 10,
      // Seed 001's partial results: inference on 20 %, 40 %, … of the sensors as they finish.
      batchSize: '20%',
    },
    description: 'the feature model per sensor present on the date (one item each, cached per sensor)',
  })
  .step('clustering_inference', {
    kind: 'sensor_clusters',
    after: ['features'],
    eachBatch: true,
    spec: {
      readings: '{{readings_table}}',
      features: '{{features_table}}',
      results: '{{results_table}}',
      date: '{{cutoff}}',
      model: MODEL_NAME,
      model_version: '{{model_version}}',
      script: CLUSTER_SCRIPT,
      sensors_step: 'features',
    },
    repo: modelsRepo,
    outputs: ['metrics'],
    description:
      'clusters of the sensors finished so far (each batch), then of all; results table and metrics',
  })
  .build();

/**
 * Seed 001's `retrain_model`: a new clustering model from a dataset of sensor features (a table,
 * optionally a date range), trained on a VM, evaluated against the production model on the same
 * rows, filed in the registry as a new version (retention: REGISTRY_KEEP_VERSIONS) and made
 * `production` when at least as good.
 */
export const sensorClusteringRetrainPipeline = definePipeline('sensor-clustering-retrain', {
  description: 'retrain the sensor clustering model from a features dataset (seed 001 retrain_model)',
  parameters: {
    dataset: param.string({ default: TABLES.features, description: 'features table to train on' }),
    from: param.date({ default: '2000-01-01', description: 'first date of the dataset used' }),
    to: param.date({ default: '2099-12-31', description: 'last date of the dataset used' }),
    clusters: param.number({ default: 4, description: 'KMeans clusters (CLUSTERS)' }),
    restarts: param.number({ default: 8, description: 'KMeans restarts, one training step each' }),
    vm_template: param.string({ default: TEMPLATES[0], choices: TEMPLATES }),
    max_training_duration: param.string({ default: '2 hours' }),
    evaluate_margin: param.number({
      default: 0,
      // A wider margin promotes worse models: a weakened gate, so admins only.
      privileged: true,
      description: 'promote when the new mean squared distance ≤ (1 + this) × the production one',
    }),
    ...modelsRepoParams(),
  },
})
  .step('prepare', {
    kind: 'prepare',
    spec: { sources: [{ table: '{{dataset}}' }] },
    outputs: ['dataset'],
    cache: true,
  })
  .step('data', {
    kind: 'sql',
    after: ['prepare'],
    spec: {
      sql: 'pipelines/sensor-clustering/sql/training_data.sql',
      tables: { dataset: '{{dataset}}' },
      params: { from: '{{from}}', to: '{{to}}' },
    },
    outputs: ['table'],
    cache: true,
  })
  .step(
    'train',
    trainStep({
      after: ['data'],
      model: MODEL_NAME,
      script: CLUSTER_SCRIPT,
      data: '{{steps.data.table}}',
      cutoff: '{{cutoff}}',
      vm: { machineImage: '{{vm_template}}' },
      env: { CLUSTERS: '{{clusters}}', KMEANS_RESTARTS: '{{restarts}}' },
      maxDuration: '{{max_training_duration}}',
      monitor: { pollInterval: '2 seconds', heartbeatTimeout: '60 seconds' },
      onFailure: 'wait',
    }),
  )
  .step(
    'evaluate',
    evaluateStep({
      after: ['data', 'train'],
      model: MODEL_NAME,
      script: CLUSTER_SCRIPT,
      data: '{{steps.data.table}}',
      margin: '{{evaluate_margin}}',
    }),
  )
  .step('promote', promoteStep({ after: ['evaluate', 'train'], model: MODEL_NAME }))
  .step('cleanup', { kind: 'cleanup', after: ['promote'], spec: { delete_outputs: false } })
  .build();

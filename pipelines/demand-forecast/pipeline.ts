import { definePipeline, param } from '../core';
import { modelsRepo, modelsRepoParams, trainStep } from '../core/model-steps';
import { ENVIRONMENTS } from './environments';
import { SALES_TABLE } from './schema';

/**
 * Seed 004, the demand-forecast modelling brick: `environment` (dev | prod) picks a configuration
 * file (input and output datasets, machine type), `only_last` trains for the last refinement cutoff
 * or for every available one. Per cutoff: data preparation (its own step, the seed's TODO), then a
 * training job on a VM made from a machine image with the code at the pinned commit (trainOnVm:
 * submitted, monitored with its status reported until it succeeds or fails), then its forecasts
 * written to the warehouse. The per-cutoff steps are map steps over the cutoffs. See README.md.
 */
export const demandForecastPipeline = definePipeline('demand-forecast', {
  description: 'weekly demand forecasts per cutoff, trained on VMs, dev/prod configurations (seed 004)',
  parameters: {
    environment: param.string({
      default: 'dev',
      choices: [...ENVIRONMENTS],
      description: 'configuration file pipelines/demand-forecast/config/<environment>.json',
    }),
    only_last: param.boolean({ default: true, description: 'train for the last cutoff only, else for all' }),
    horizon: param.number({ default: 8, description: 'weeks forecast after each cutoff' }),
    seasonal_periods: param.number({ default: 52, description: 'weeks in a season (yearly: 52)' }),
    active_days: param.number({
      default: 56,
      description: 'items without sales for this long get no forecast',
    }),
    max_training_duration: param.string({ default: '6 hours' }),
    monitor_poll_interval: param.string({
      default: '30 seconds',
      description: 'how often the job status is read',
    }),
    monitor_heartbeat_timeout: param.string({ default: '2 minutes' }),
    ...modelsRepoParams('git repository holding models/ and the configs'),
  },
})
  .step('cutoffs', {
    kind: 'forecast_cutoffs',
    // The configuration file is read at the pinned commit, like the training code.
    repo: modelsRepo,
    spec: {
      environment: '{{environment}}',
      config: 'pipelines/demand-forecast/config/{{environment}}.json',
      only_last: '{{only_last}}',
      until: '{{cutoff}}',
    },
  })
  .step('prepare', {
    kind: 'sql',
    after: ['cutoffs'],
    spec: {
      sql: 'pipelines/demand-forecast/sql/prepare.sql',
      tables: { sales: `{{item.input_dataset}}.${SALES_TABLE}` },
      params: { cutoff_date: '{{item.cutoff}}', active_days: '{{active_days}}' },
    },
    outputs: ['table'],
    cache: true,
    map: { forEach: { step: 'cutoffs', field: 'cutoffs' }, maxConcurrency: 8 },
  })
  .step('prepared', {
    kind: 'forecast_inputs',
    after: ['prepare', 'cutoffs'],
    spec: { prepared: 'prepare' },
  })
  .step(
    'train',
    trainStep({
      after: ['prepared'],
      model: 'demand_forecast',
      script: 'models/demand-forecast/train.py',
      data: '{{item.table}}',
      vm: { machineImage: '{{item.vm_template}}', machineType: '{{item.machine_type}}' },
      env: { CUTOFF: '{{item.cutoff}}', HORIZON: '{{horizon}}', SEASONAL_PERIODS: '{{seasonal_periods}}' },
      maxDuration: '{{max_training_duration}}',
      policy: { maxRetries: 0 },
      monitor: {
        pollInterval: '{{monitor_poll_interval}}',
        heartbeatTimeout: '{{monitor_heartbeat_timeout}}',
      },
      map: {
        forEach: { step: 'prepared', field: 'cutoffs' },
        // Cutoffs trained at once (each on a VM of its own).
        maxConcurrency: 4,
        batchSize: 1,
      },
    }),
  )
  .step('publish', {
    kind: 'forecast_publish',
    after: ['train'],
    // Each cutoff's forecasts go out as soon as its training has finished (one batch per cutoff).
    eachBatch: true,
    spec: { trained: 'train' },
  })
  .build();

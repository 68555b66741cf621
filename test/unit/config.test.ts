import { BigQuery } from '@google-cloud/bigquery';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config';
import { createWorkers } from '../../workers/worker';

describe('config', () => {
  it('defaults to the local stack', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_TASK_QUEUE: 'retrainer',
      VM_PROVIDER: 'local',
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ TEMPORAL_NAMESPACE: '' }).TEMPORAL_NAMESPACE).toBe('default');
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ API_PORT: 'http', VM_PROVIDER: 'aws' })).toThrow(ConfigError);
    expect(() => loadConfig({ API_PORT: 'http', VM_PROVIDER: 'aws' })).toThrow(
      /API_PORT.*VM_PROVIDER|VM_PROVIDER.*API_PORT/,
    );
  });

  it('routes trainings to their own queue only when asked; a worker role names what it polls', async () => {
    expect(loadConfig({})).toMatchObject({ TEMPORAL_TASK_QUEUE_TRAINING: '', WORKER_ROLE: 'all' });
    expect(loadConfig({ WORKER_ROLE: 'training' }).WORKER_ROLE).toBe('training');
    expect(() => loadConfig({ WORKER_ROLE: 'everything' })).toThrow(/WORKER_ROLE/);
    // A training-only worker without its queue would poll nothing: refused before connecting.
    const config = { ...loadConfig({ WORKER_ROLE: 'training' }), TEMPORAL_ADDRESS: '127.0.0.1:1' };
    await expect(createWorkers({ config, bigquery: new BigQuery({ projectId: 'p' }) })).rejects.toThrow(
      /WORKER_ROLE=training needs TEMPORAL_TASK_QUEUE_TRAINING/,
    );
  });
});

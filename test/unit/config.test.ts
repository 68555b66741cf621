import { BigQuery } from '@google-cloud/bigquery';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseApiTokens } from '../../config';
import { temporalTls } from '../../config/temporal-tls';
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
  it('takes API tokens as name:role:secret and names what is wrong without echoing a secret', () => {
    expect(parseApiTokens('ci:admin:s3cret-value,ro:viewer:a:b:c:d:e')).toEqual([
      { name: 'ci', role: 'admin', secret: 's3cret-value' },
      { name: 'ro', role: 'viewer', secret: 'a:b:c:d:e' },
    ]);
    const attempt = (API_TOKENS: string) => () => loadConfig({ API_TOKENS });
    expect(attempt('just-a-secret-token')).toThrow(/API_TOKENS: token 1: expected name:role:secret/);
    expect(attempt('just-a-secret-token')).not.toThrow(/just-a-secret/);
    expect(attempt('x:root:longenough')).toThrow(/role must be one of/);
    expect(attempt('x:admin:short')).toThrow(/at least 8 characters/);
    expect(attempt('x:admin:longenough,x:viewer:longenough2')).toThrow(/used twice/);
    expect(attempt('x:admin:verysecretvalue,-y:viewer:longenough')).toThrow(/token 2: expected/);
    expect(attempt('x:admin:verysecretvalue,-y:viewer:longenough')).not.toThrow(/verysecretvalue|longenough/);
  });

  it('builds TLS settings for the Temporal connection only when TEMPORAL_TLS is on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    for (const file of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, file), file);
    expect(temporalTls(loadConfig({}))).toBeUndefined();
    expect(temporalTls(loadConfig({ TEMPORAL_TLS: 'on' }))).toEqual({});
    const mutual = temporalTls(
      loadConfig({
        TEMPORAL_TLS: 'on',
        TEMPORAL_TLS_CA: join(dir, 'ca.pem'),
        TEMPORAL_TLS_CERT: join(dir, 'client.pem'),
        TEMPORAL_TLS_KEY: join(dir, 'client.key'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal',
      }),
    );
    expect(mutual?.serverNameOverride).toBe('temporal');
    expect(mutual?.serverRootCACertificate?.toString()).toBe('ca.pem');
    expect(mutual?.clientCertPair?.key.toString()).toBe('client.key');
    expect(() =>
      temporalTls(loadConfig({ TEMPORAL_TLS: 'on', TEMPORAL_TLS_CERT: join(dir, 'client.pem') })),
    ).toThrow(/go together/);
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

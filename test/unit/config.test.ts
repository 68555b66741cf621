import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config';

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
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configKeys, loadConfig } from '../../config';
import { customSearchAttributes } from '../../config/search-attributes';

const root = join(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
  container_name?: string;
  networks?: string[];
  profiles?: string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean } | null>;
};

/** Substitutes `${NAME:-default}` the way docker compose does, with no variables set. */
const withDefaults = (value: string | number): string =>
  String(value).replace(
    /\$\{[A-Z_]+(?::-([^}]*))?(?::\?[^}]*)?\}/g,
    // A required variable gets a value valid for any of them (a token `name:role:secret` included).
    (_match, fallback: string | undefined) => fallback ?? 'placeholder:admin:placeholder-secret',
  );

describe('docker-compose.yml (the production path)', () => {
  it('has Temporal on PostgreSQL, the Web UI, the worker and the API', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal',
        'temporal-ui',
        'temporal-search-attributes',
        'worker',
        'api',
      ]),
    );
    expect(compose.services.temporal?.environment).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
    });
    expect(compose.services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('configures the worker and the API only with variables the code reads, and valid values', () => {
    for (const name of ['worker', 'training-worker', 'api'] as const) {
      const env = compose.services[name]?.environment ?? {};
      const ours = Object.keys(env).filter((key) => key !== 'GOOGLE_APPLICATION_CREDENTIALS');
      expect(ours.filter((key) => !configKeys.includes(key as never))).toEqual([]);
      const resolved = Object.fromEntries(
        Object.entries(env).map(([key, value]) => [key, withDefaults(value)]),
      );
      expect(() => loadConfig(resolved)).not.toThrow();
      expect(loadConfig(resolved).TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
  });

  it('publishes the API on the port it listens on, and runs the compiled entry points', () => {
    const api = compose.services.api!;
    const port = loadConfig({ API_PORT: String(api.environment?.API_PORT) }).API_PORT;
    expect(api.ports).toContain(`${port}:${port}`);
    expect(api.command).toEqual(['node', 'dist/api/main.js']);
    expect(compose.services.worker?.command).toEqual(['node', 'dist/workers/main.js']);
    const tsBuild = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    expect(tsBuild.include).toEqual(expect.arrayContaining(['workers', 'api']));
  });

  it('scales workers out (--scale worker=3): no fixed container name or published port; monitors on their own queue', () => {
    for (const name of ['worker', 'training-worker'] as const) {
      const service = compose.services[name]!;
      expect(service.container_name).toBeUndefined();
      expect(service.ports).toBeUndefined();
      expect(service.command).toEqual(['node', 'dist/workers/main.js']);
    }
    const config = (name: string) =>
      loadConfig(
        Object.fromEntries(
          Object.entries(compose.services[name]?.environment ?? {}).map(([key, value]) => [
            key,
            withDefaults(value),
          ]),
        ),
      );
    expect(config('worker').WORKER_ROLE).toBe('pipeline');
    expect(config('training-worker').WORKER_ROLE).toBe('training');
    expect(config('training-worker').TEMPORAL_TASK_QUEUE_TRAINING).not.toBe('');
    expect(config('training-worker').TEMPORAL_TASK_QUEUE_TRAINING).not.toBe(
      config('worker').TEMPORAL_TASK_QUEUE,
    );
  });

  it('registers exactly the custom search attributes the workflows use', () => {
    const command = compose.services['temporal-search-attributes']?.command?.join(' ') ?? '';
    const names = /for name in ([A-Za-z ]+); do/.exec(command)?.[1]?.trim().split(/\s+/);
    expect(names).toEqual(customSearchAttributes.map((key) => key.name));
  });
  it('publishes Temporal and its UI on the loopback only, and keeps PostgreSQL on the internal network', () => {
    expect(compose.services.temporal?.ports).toEqual(['127.0.0.1:7233:7233']);
    expect(compose.services['temporal-ui']?.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(compose.networks.internal?.internal).toBe(true);
    expect(compose.services.postgresql?.networks).toEqual(['internal']);
    expect(compose.services.postgresql?.ports).toBeUndefined();
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        if (name !== 'api') expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });

  it('has a `tls` profile whose certificates the worker and the API can be pointed at', () => {
    expect(compose.services['temporal-certs']?.profiles).toEqual(['tls']);
    const env = Object.fromEntries(
      Object.entries(compose.services.api?.environment ?? {}).map(([key, value]) => [
        key,
        withDefaults(value),
      ]),
    );
    const tls = loadConfig({
      ...env,
      TEMPORAL_TLS: 'on',
      TEMPORAL_TLS_CA: '/tls/ca.pem',
      TEMPORAL_TLS_CERT: '/tls/client.pem',
      TEMPORAL_TLS_KEY: '/tls/client.key',
    });
    expect(tls).toMatchObject({ TEMPORAL_TLS: 'on', TEMPORAL_TLS_CA: '/tls/ca.pem' });
    expect(loadConfig(env).TEMPORAL_TLS).toBe('off');
  });

  it('runs Prometheus and Grafana with their mounted config, scraping the ports the code serves', () => {
    const prometheus = compose.services.prometheus as Service & { volumes?: string[] };
    const grafana = compose.services.grafana as Service & { volumes?: string[] };
    for (const service of [prometheus, grafana]) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(join(root, source)), source).toBe(true);
      }
    }
    const scrape = parse(readFileSync(join(root, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        dns_sd_configs?: { names: string[]; port: number }[];
        static_configs?: { targets: string[] }[];
      }[];
    };
    const workers = scrape.scrape_configs.find((job) => job.job_name === 'retrainer-worker');
    for (const name of workers?.dns_sd_configs?.[0]?.names ?? []) {
      const address = loadConfig({
        WORKER_METRICS_ADDRESS: String(compose.services[name]?.environment?.WORKER_METRICS_ADDRESS),
      }).WORKER_METRICS_ADDRESS;
      expect(address.endsWith(`:${workers?.dns_sd_configs?.[0]?.port}`), name).toBe(true);
    }
    expect(workers?.dns_sd_configs?.[0]?.names).toEqual(['worker', 'training-worker']);
    const api = scrape.scrape_configs.find((job) => job.job_name === 'retrainer-api');
    expect(api?.metrics_path).toBe('/metrics');
    expect(api?.static_configs?.[0]?.targets).toEqual([`api:${compose.services.api?.environment?.API_PORT}`]);
  });

  it('provisions a Grafana dashboard whose queries use only series the code exports', () => {
    const dashboard = JSON.parse(
      readFileSync(join(root, 'deploy', 'grafana', 'dashboards', 'retrainer.json'), 'utf8'),
    ) as { uid: string; panels: { targets: { expr: string }[] }[] };
    const sources = ['workflows/metrics.ts', 'workflows/reap-vms.ts', 'api/metrics/metrics.service.ts']
      .map((file) => readFileSync(join(root, file), 'utf8'))
      .join('\n');
    const used = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) => target.expr.match(/retrainer_[a-z_]+/g) ?? []),
    );
    expect(used.length).toBeGreaterThan(5);
    for (const series of used) {
      // Prometheus adds _bucket/_sum/_count to histograms and _total to counters.
      const base = series.replace(/_(bucket|sum|count|total)$/, '');
      expect(sources, series).toContain(`'${base}'`);
    }
  });
});

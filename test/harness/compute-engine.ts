import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as Compute Engine would receive it, for assertions on the exact wire traffic. */
export interface WireRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
}

export interface FakeInstance {
  name: string;
  status: string;
  labels: Record<string, string>;
  machineType?: string;
  networkInterfaces?: { networkIP: string; accessConfigs: { natIP: string }[] }[];
  /** Guest attributes `hostkeys/` (published only while RUNNING, as the guest agent does). */
  hostKeys?: Record<string, string>;
  [field: string]: unknown;
}

interface PendingOperation {
  resource: Record<string, unknown>;
  /** `wait` calls answered RUNNING before the operation is DONE. */
  waitsLeft: number;
  apply: () => void;
  error?: { code: string; message: string }[];
}

/**
 * A Compute Engine REST double for wire tests of the `gce` provider (no emulator exists): it speaks
 * the v1 paths the client library calls, keeps instances in memory, answers changes with zone
 * operations that are RUNNING on the first `wait` and DONE on the next, and records every request.
 */
export async function startComputeEngineDouble(options: {
  project: string;
  zone: string;
  machineImages: string[];
}) {
  const instances = new Map<string, FakeInstance>();
  const operations = new Map<string, PendingOperation>();
  const requests: WireRequest[] = [];
  const failures = new Map<string, { code: string; message: string }[]>();
  let pageSize = 500;
  let nextOperation = 1;
  const zonePath = `/compute/v1/projects/${options.project}/zones/${options.zone}`;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, reason: string, message: string) =>
    send(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });
  const notFound = (res: ServerResponse, resource: string) =>
    error(res, 404, 'notFound', `The resource '${resource}' was not found`);

  function operation(type: string, target: string, apply: () => void): Record<string, unknown> {
    const name = `operation-${nextOperation++}-${type}`;
    const resource = {
      kind: 'compute#operation',
      name,
      operationType: type,
      targetLink: `https://www.googleapis.com${zonePath}/instances/${target}`,
      zone: `https://www.googleapis.com/compute/v1/projects/${options.project}/zones/${options.zone}`,
      status: 'RUNNING',
      progress: 0,
    };
    operations.set(name, { resource, waitsLeft: 1, apply, error: failures.get(type) });
    failures.delete(type);
    return resource;
  }

  function wait(res: ServerResponse, name: string) {
    const op = operations.get(name);
    if (!op) return notFound(res, `projects/${options.project}/zones/${options.zone}/operations/${name}`);
    if (op.waitsLeft > 0) {
      op.waitsLeft -= 1;
      return send(res, 200, op.resource);
    }
    if (op.resource.status !== 'DONE') {
      op.resource = { ...op.resource, status: 'DONE', progress: 100 };
      if (op.error) op.resource.error = { errors: op.error };
      else op.apply();
    }
    send(res, 200, op.resource);
  }

  function matches(instance: FakeInstance, filter: string | undefined): boolean {
    if (!filter) return true;
    const terms = [...filter.matchAll(/\(labels\.([a-z0-9_-]+) = "([^"]*)"\)/g)];
    if (terms.map((term) => term[0]).join(' ') !== filter) throw new Error(`unsupported filter ${filter}`);
    return terms.every(([, key, value]) => key !== undefined && instance.labels[key] === value);
  }

  function view(instance: FakeInstance): Record<string, unknown> {
    const { hostKeys: _hostKeys, ...resource } = instance;
    return { kind: 'compute#instance', ...resource };
  }

  function handle(req: IncomingMessage, res: ServerResponse, rawBody: string) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = rawBody ? (JSON.parse(rawBody) as Record<string, unknown>) : undefined;
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
    });
    if (!url.pathname.startsWith(zonePath)) return notFound(res, url.pathname);
    const parts = url.pathname.slice(zonePath.length).split('/').filter(Boolean);
    const [collection, name, verb] = parts;
    if (collection === 'operations' && name && verb === 'wait' && req.method === 'POST')
      return wait(res, name);
    if (collection !== 'instances') return notFound(res, url.pathname);
    const instance = name ? instances.get(name) : undefined;
    const instancePath = `projects/${options.project}/zones/${options.zone}/instances/${name}`;

    if (!name && req.method === 'GET') {
      const all = [...instances.values()].filter((each) =>
        matches(each, url.searchParams.get('filter') ?? undefined),
      );
      const start = Number(url.searchParams.get('pageToken') ?? 0);
      const page = all.slice(start, start + pageSize).map(view);
      const next = start + pageSize < all.length ? String(start + pageSize) : undefined;
      return send(res, 200, {
        kind: 'compute#instanceList',
        items: page,
        ...(next ? { nextPageToken: next } : {}),
      });
    }
    if (!name && req.method === 'POST') {
      const image = url.searchParams.get('sourceMachineImage') ?? '';
      const imageName = image.split('/').pop() ?? '';
      if (
        image !== `projects/${options.project}/global/machineImages/${imageName}` ||
        !options.machineImages.includes(imageName)
      )
        return notFound(res, image);
      const newName = String(body?.name ?? '');
      if (instances.has(newName))
        return error(
          res,
          409,
          'alreadyExists',
          `The resource 'projects/${options.project}/zones/${options.zone}/instances/${newName}' already exists`,
        );
      const accelerators = (body?.guestAccelerators as unknown[] | undefined) ?? [];
      const scheduling = body?.scheduling as { onHostMaintenance?: string } | undefined;
      if (accelerators.length > 0 && scheduling?.onHostMaintenance !== 'TERMINATE')
        return error(
          res,
          400,
          'badRequest',
          'Instances with guest accelerators do not support live migration.',
        );
      const created: FakeInstance = {
        name: newName,
        status: 'PROVISIONING',
        labels: (body?.labels as Record<string, string>) ?? {},
        networkInterfaces: [
          {
            networkIP: `10.0.0.${instances.size + 2}`,
            accessConfigs: [{ natIP: `34.0.0.${instances.size + 2}` }],
          },
        ],
      };
      instances.set(newName, created);
      return send(
        res,
        200,
        operation('insert', newName, () => (created.status = 'STAGING')),
      );
    }
    if (!instance) return notFound(res, instancePath);
    if (!verb && req.method === 'GET') {
      const answer = view(instance);
      if (instance.status === 'STAGING') instance.status = 'RUNNING'; // boots between two reads
      return send(res, 200, answer);
    }
    if (!verb && req.method === 'DELETE')
      return send(
        res,
        200,
        operation('delete', instance.name, () => instances.delete(instance.name)),
      );
    if (verb === 'getGuestAttributes' && req.method === 'GET') {
      if (instance.status !== 'RUNNING' || !instance.hostKeys)
        return notFound(res, `${instancePath}/guestAttributes/hostkeys/`);
      const items = Object.entries(instance.hostKeys).map(([key, value]) => ({
        namespace: 'hostkeys',
        key,
        value,
      }));
      return send(res, 200, {
        kind: 'compute#guestAttributes',
        queryPath: url.searchParams.get('queryPath'),
        queryValue: { items },
      });
    }
    if (verb === 'setLabels' && req.method === 'POST') {
      const fingerprint = String(instance.labelFingerprint ?? '');
      if (String(body?.labelFingerprint ?? '') !== fingerprint)
        return error(
          res,
          412,
          'conditionNotMet',
          `Labels fingerprint either invalid or resource labels have changed`,
        );
      const labels = (body?.labels as Record<string, string>) ?? {};
      instance.labelFingerprint = `fp-${nextOperation}`;
      return send(
        res,
        200,
        operation('setLabels', instance.name, () => (instance.labels = labels)),
      );
    }
    if (verb === 'start' && req.method === 'POST')
      return send(
        res,
        200,
        operation('start', instance.name, () => (instance.status = 'RUNNING')),
      );
    if (verb === 'stop' && req.method === 'POST') {
      instance.status = 'STOPPING';
      return send(
        res,
        200,
        operation('stop', instance.name, () => (instance.status = 'TERMINATED')),
      );
    }
    return error(res, 400, 'badRequest', `unsupported ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    instances,
    requests,
    /** Puts an instance in place, as if made outside Retrainer (quality's persistent instance). */
    seed(instance: FakeInstance) {
      instances.set(instance.name, instance);
    },
    /** Makes the next operation of this type end DONE with these errors. */
    failNext(type: 'insert' | 'start' | 'stop' | 'delete', errors: { code: string; message: string }[]) {
      failures.set(type, errors);
    },
    setPageSize(size: number) {
      pageSize = size;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type ComputeEngineDouble = Awaited<ReturnType<typeof startComputeEngineDouble>>;

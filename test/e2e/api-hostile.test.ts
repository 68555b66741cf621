import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelines } from '../../pipelines';
import { stepKinds } from '../../workers/kinds';
import { startApiStack, type ApiStack } from '../harness/api-stack';
import { testTempDir } from '../harness/paths';

const ADMIN = 'hostile-admin-secret';
const OPERATOR = 'hostile-operator-secret';

/**
 * The audit's findings tried through the HTTP API, against the real catalog and a real worker that
 * plans with the production policy (MODELS_REPOS, allow-lists, cost ceiling) but serves no step
 * activity: each attempt is answered 400/403/404/413 naming the field, no marker file appears, and no
 * run or schedule exists afterwards but the one run started on purpose. test/unit/hostile-plan and
 * test/integration/hostile-remote try the same at the plan and on the remote side.
 */
describe('hostile input through the HTTP API', () => {
  let stack: ApiStack;
  let marker: string;
  /** The one run this suite starts on purpose (to try hostile step names on it). */
  let target: string | undefined;

  beforeAll(async () => {
    const dir = testTempDir('api-hostile');
    mkdirSync(dir, { recursive: true });
    marker = join(dir, 'pwned');
    stack = await startApiStack({
      pipelines: [...pipelines.values()],
      kinds: stepKinds as never,
      tokens: `root:admin:${ADMIN},night-shift:operator:${OPERATOR}`,
      runSteps: false,
      config: {
        MODELS_REPOS: '.',
        ALLOWED_DATASET_PROJECTS: 'shared-data-project',
        ALLOWED_INSTANCES: 'quality-notebook',
        RUN_COST_CEILING_USD: '100',
        API_BODY_LIMIT: '100kb',
        // Hundreds of hostile requests a minute from one address: the limits are api-hardening's subject.
        API_RATE_LIMIT: '100000',
        API_START_RATE_LIMIT: '1000',
      },
    });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const call = async (method: string, path: string, body?: unknown, token = ADMIN, raw?: string) => {
    const response = await fetch(`${stack.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const message = (() => {
      try {
        return JSON.stringify((JSON.parse(text) as { message?: unknown }).message ?? '');
      } catch {
        return text;
      }
    })();
    return { status: response.status, message };
  };

  /** A start, a dry run and a schedule with these params: each refused with `status`, naming `field`. */
  async function refusedEverywhere(params: Record<string, unknown>, status: number, field: RegExp) {
    for (const dryRun of [false, true]) {
      const run = await call('POST', '/runs', { pipeline: 'visits-scaling', params, dryRun });
      expect(run.status, `${JSON.stringify(params)} dryRun=${dryRun}: ${run.message}`).toBe(status);
      expect(run.message).toMatch(field);
    }
    const schedule = await call('POST', '/schedules', {
      id: 'hostile',
      pipeline: 'visits-scaling',
      cron: ['0 6 1 1 *'],
      params,
    });
    expect(schedule.status, `schedule ${JSON.stringify(params)}: ${schedule.message}`).toBe(status);
    expect(schedule.message).toMatch(field);
  }

  it('never runs a git option from models_repo or models_ref', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ models_repo: `--upload-pack=touch ${marker};` }, /parameter models_repo: /],
      [{ models_repo: `--upload-pack=touch ${marker}`, models_ref: 'main' }, /parameter models_repo: /],
      // The ref reaches git through the steps' repositories: the message names the parameter first.
      [
        { models_ref: `--upload-pack=touch ${marker}` },
        /parameter models_ref: step [\w.]+: ref .*--upload-pack.* is not a branch, tag or commit/,
      ],
      [{ models_repo: `ext::sh -c touch% ${marker}` }, /parameter models_repo: /],
      [
        { models_repo: '.', models_ref: `-c core.sshCommand=touch ${marker}` },
        /parameter models_ref: step [\w.]+: ref .*-c core.* is not a branch, tag or commit/,
      ],
      [
        { models_ref: 'no-such-branch-anywhere' },
        /parameter models_ref: step [\w.]+: ref no-such-branch-anywhere not found/,
      ],
      [
        { models_repo: 'https://example.invalid/evil.git' },
        /parameter models_repo: repository .* is not in MODELS_REPOS/,
      ],
    ];
    for (const [params, field] of cases) await refusedEverywhere(params, 400, field);
    expect(existsSync(marker)).toBe(false);
    // git's own words (paths and hosts of the worker) never reach the caller.
    for (const params of [{ models_ref: 'no-such-branch-anywhere' }, { models_ref: 'HEAD~100000' }]) {
      const refused = await call('POST', '/runs', { pipeline: 'visits-scaling', params, dryRun: true });
      expect(refused.status, refused.message).toBe(400);
      expect(refused.message).not.toMatch(/fatal|unknown revision|ambiguous argument|not a git repository/i);
    }
  }, 300_000);

  it('keeps datasets, instances, machine types and accelerators to the allow-lists, and cost under the ceiling', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ source_dataset: 'victim-project-1.secrets' }, /source_dataset/],
      [{ production_dataset: 'other-project.payroll' }, /production_dataset/],
      [{ production_dataset: 'visits`; DROP TABLE x; --' }, /production_dataset/],
      [
        { quality_instance: 'prod-database-1' },
        /quality_instance: .*instance prod-database-1 is not allowed/,
      ],
      [{ quality_instance: '-oProxyCommand=x' }, /quality_instance/],
      [{ quality_notebook_train_machine_config: 'a3-megagpu-8g' }, /quality_notebook_train_machine_config/],
      [{ quality_notebook_train_accelerator_config: 'nvidia-h100-80gb:8' }, /accelerator nvidia-h100-80gb/],
      [{ quality_notebook_train_accelerator_config: 'nvidia-tesla-t4:64' }, /count 64 is outside/],
      [{ max_training_duration: '1000 hours' }, /above RUN_COST_CEILING_USD \(100\)/],
    ];
    for (const [params, field] of cases) await refusedEverywhere(params, 400, field);
  }, 300_000);

  it('keeps privileged parameters and starts for admins (403 to an operator, naming the parameter)', async () => {
    for (const params of [{ require_approval: false }, { trend_margin: 0.5 }]) {
      const name = Object.keys(params)[0]!;
      for (const dryRun of [true, false]) {
        const refused = await call('POST', '/runs', { pipeline: 'visits-scaling', params, dryRun }, OPERATOR);
        expect(refused.status, `${name} dryRun=${dryRun}: ${refused.message}`).toBe(403);
        expect(refused.message).toMatch(
          dryRun ? new RegExp(`params\\.${name}: .*needs the admin role`) : /admin/,
        );
      }
    }
    const start = await call('POST', '/runs', { pipeline: 'demo' }, OPERATOR);
    expect(start.status).toBe(403);
    expect(start.message).toMatch(/starting a run needs admin/);
    const schedule = await call(
      'POST',
      '/schedules',
      { id: 'x', pipeline: 'demo', cron: ['0 6 * * *'] },
      OPERATOR,
    );
    expect(schedule.status).toBe(403);
  }, 180_000);

  it('treats __proto__, constructor and other inherited names as unknown parameters', async () => {
    for (const name of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
      const raw = `{"pipeline":"visits-scaling","dryRun":true,"params":{"${name}":"x"}}`;
      const response = await call('POST', '/runs', undefined, ADMIN, raw);
      expect(response.status, `${name}: ${response.message}`).toBe(400);
      expect(response.message).toContain(`unknown parameter ${name}`);
    }
    // Raw JSON: JSON.parse makes `__proto__` an own key, as it arrives over HTTP. These keys are
    // refused at any depth (class-transformer's copy would make one the object's prototype and take
    // another for its class).
    for (const [key, raw] of [
      ['__proto__', '{"pipeline":"visits-scaling","dryRun":true,"params":{"__proto__":{"polluted":true}}}'],
      ['__proto__', '{"pipeline":"visits-scaling","dryRun":true,"__proto__":{"dryRun":false}}'],
      ['constructor', '{"pipeline":"visits-scaling","dryRun":true,"params":{"constructor":"x"}}'],
      ['prototype', '{"pipeline":"demo","dryRun":true,"prototype":{"a":1}}'],
    ] as const) {
      const response = await call('POST', '/runs', undefined, ADMIN, raw);
      expect(response.status, `${raw}: ${response.message}`).toBe(400);
      expect(response.message).toMatch(new RegExp(`${key}\\W{0,3} is not allowed as a key`));
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 120_000);

  it('answers 413 to a body over API_BODY_LIMIT, and 400 to one that is not JSON', async () => {
    const huge = await call('POST', '/runs', { pipeline: 'demo', params: { region: 'x'.repeat(200_000) } });
    expect(huge.status).toBe(413);
    const nested = await call(
      'POST',
      '/runs',
      undefined,
      ADMIN,
      `${'['.repeat(60_000)}${']'.repeat(60_000)}`,
    );
    expect(nested.status).toBe(413);
    const broken = await call('POST', '/runs', undefined, ADMIN, '{"pipeline": "demo",');
    expect(broken.status).toBe(400);
  }, 120_000);

  it('refuses quotes, backslashes and operators in list filters before any query', async () => {
    const filters: [string, RegExp][] = [
      [`pipeline=${encodeURIComponent("demo' OR WorkflowType != '")}`, /pipeline: unknown pipeline/],
      [`pipeline=${encodeURIComponent('demo\\')}`, /pipeline: unknown pipeline/],
      [`pipeline=${encodeURIComponent("demo\\' OR 1=1 --")}`, /pipeline: unknown pipeline/],
      [`state=${encodeURIComponent("running' OR RunState != '")}`, /state/],
      [`since=${encodeURIComponent("2026-01-01' OR '1'='1")}`, /since must be a date/],
      [`until=${encodeURIComponent('2026-01-01\\')}`, /until must be a date/],
      ['limit=1%3BDROP', /limit/],
      ['limit=0', /limit/],
    ];
    for (const [query, field] of filters) {
      const response = await call('GET', `/runs?${query}`);
      expect(response.status, `${query}: ${response.message}`).toBe(400);
      expect(response.message).toMatch(field);
    }
  }, 120_000);

  it('keeps path-like run keys, run ids and step names to 400/404, and unknown steps to 404', async () => {
    for (const runKey of ['../../etc/passwd', 'a/b', '--upload-pack=x', '.hidden', `x${'y'.repeat(200)}`]) {
      const response = await call('POST', '/runs', { pipeline: 'demo', runKey, dryRun: true });
      expect(response.status, `${runKey}: ${response.message}`).toBe(400);
      expect(response.message).toMatch(/runKey/);
    }
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2E%2E', 'demo%2F..%2F..%2Fx', 'demo%2Fnone']) {
      const response = await call('GET', `/runs/${id}`);
      expect(response.status, `${id}: ${response.message}`).toBe(404);
      const action = await call('POST', `/runs/${id}/abort`, { reason: 'x' });
      expect(action.status, `${id}: ${action.message}`).toBe(404);
    }

    const started = await fetch(`${stack.base}/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ pipeline: 'demo', runKey: 'hostile-target', cutoff: '2026-09-30' }),
    });
    expect(started.status).toBe(201);
    target = ((await started.json()) as { workflowId: string }).workflowId;
    const path = `/runs/${encodeURIComponent(target)}`;
    // Actions are checked against the run's plan: wait until the worker has planned it.
    for (let i = 0; i < 240; i++) {
      const shown = await fetch(`${stack.base}${path}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
      if (((await shown.json()) as { run?: { plan?: unknown } }).run?.plan) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    for (const step of ['nope', '..%2F..%2Fprepare', '__proto__', 'constructor', "prepare'%20OR%201%3D1"]) {
      for (const action of ['retry', 'rerun']) {
        const response = await call('POST', `${path}/steps/${step}/${action}`);
        expect(response.status, `${step} ${action}: ${response.message}`).toBe(404);
        expect(response.message).toMatch(/step/);
      }
      const marked = await call('POST', `${path}/steps/${step}/mark-succeeded`, { reason: 'x' });
      expect(marked.status, `${step}: ${marked.message}`).toBe(404);
    }
    const approve = await call('POST', `${path}/approve`, { step: 'nope' });
    expect(approve.status, approve.message).toBe(404);
  }, 300_000);

  it('refuses inherited names as top-level keys of every JSON body, naming the key', async () => {
    const run = encodeURIComponent(target ?? 'demo/none');
    // A body each route would accept (a silently dropped key shows as a success, or as another answer
    // that does not name the key: demo takes no arrivals).
    const valid: Record<string, Record<string, unknown>> = {
      'POST /runs': { pipeline: 'demo', runKey: 'inherited-key', cutoff: '2026-09-30' },
      'POST /schedules': { id: 'inherited-key', pipeline: 'demo', cron: ['0 6 1 1 *'] },
      'PATCH /schedules/{id}': { cron: ['0 7 1 1 *'] },
      'POST /schedules/{id}/backfill': { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' },
      'POST /schedules/{id}/pause': { note: 'x' },
      'POST /schedules/{id}/unpause': { note: 'x' },
      'POST /pipelines/{name}/arrivals': { date: '2026-09-30', item: 'sensor-1' },
      'POST /runs/{id}/steps/{step}/mark-succeeded': { reason: 'x' },
      'POST /runs/{id}/steps/{step}/items/{item}/mark-succeeded': { reason: 'x' },
      'POST /runs/{id}/approve': {},
      'POST /runs/{id}/abort': { reason: 'x' },
    };
    const documentResponse = await fetch(`${stack.base}/docs-json`, {
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    const document = (await documentResponse.json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    const routes = Object.entries(document.paths).flatMap(([path, item]) =>
      ['post', 'patch', 'put']
        .filter((method) => item[method])
        .map((method) => ({
          route: `${method.toUpperCase()} ${path}`,
          path,
          body: !!item[method]!.requestBody,
        })),
    );
    // Every route that takes a body is tried with a body it would accept.
    expect(
      routes
        .filter((route) => route.body)
        .map((route) => route.route)
        .sort(),
    ).toEqual(Object.keys(valid).sort());
    const dryRun = { pipeline: 'demo', dryRun: true };
    const tries = [...routes, { route: 'POST /runs (dry run)', path: '/runs', body: true }];
    for (const { route, path } of tries) {
      const url = path
        .replace('{id}', path.startsWith('/runs') ? run : 'inherited-key')
        .replace('{name}', 'demo')
        .replace('{step}', 'prepare')
        .replace('{item}', '0');
      const body = route.endsWith('(dry run)') ? dryRun : (valid[route] ?? {});
      for (const key of [
        'toString',
        'valueOf',
        'hasOwnProperty',
        'isPrototypeOf',
        '__proto__',
        'constructor',
      ]) {
        const raw = `${JSON.stringify(body).slice(0, -1)}${Object.keys(body).length ? ',' : ''}"${key}":"x"}`;
        const response = await call(route.split(' ')[0]!, url, undefined, ADMIN, raw);
        expect(response.status, `${route} ${key}: ${response.message}`).toBe(400);
        expect(response.message, `${route} ${key}`).toMatch(
          new RegExp(`${key}\\W{0,3} is not allowed as a key`),
        );
      }
    }
    // Inside a free-form object they are unknown parameters (not silently dropped either).
    const inParams = await call('POST', '/runs', { ...dryRun, params: JSON.parse('{"valueOf":"x"}') });
    expect(inParams.status, inParams.message).toBe(400);
    expect(inParams.message).toContain('unknown parameter valueOf');
  }, 120_000);

  it('left nothing behind: no marker, no schedule, no run but the one started on purpose', async () => {
    expect(existsSync(marker)).toBe(false);
    const listRuns = async () => {
      const ids: string[] = [];
      for await (const execution of stack.env.client.workflow.list({ query: "WorkflowType = 'runPipeline'" }))
        ids.push(execution.workflowId);
      return ids;
    };
    // Visibility lags a little behind starts: wait until the run started on purpose is listed.
    let runs = await listRuns();
    for (let i = 0; i < 60 && target && !runs.includes(target); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      runs = await listRuns();
    }
    expect(runs).toEqual(target ? [target] : []);
    const schedules: string[] = [];
    for await (const schedule of stack.env.client.schedule.list()) schedules.push(schedule.scheduleId);
    expect(schedules).toEqual([]);
  }, 120_000);
});

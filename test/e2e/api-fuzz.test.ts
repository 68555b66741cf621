import { execFile } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../activities/providers/paths';
import { definePipeline } from '../../pipelines';
import { demoPipeline } from '../../pipelines/demo/pipeline';
import { startApiStack, type ApiStack } from '../harness/api-stack';
import { testTempDir } from '../harness/paths';
import { operatorKinds } from '../integration/runner-fixtures';

/**
 * The cheap catalog the fuzzed API serves, so nothing it starts costs anything: `demo` (echo steps)
 * and a run that waits for operators (a step that fails and waits, an approval gate), for the
 * stateful phase's actions. Both declare the same parameters, so `PATCH /schedules/:id` (whose
 * pipeline the path does not say) has one exact `params` schema.
 */
const waitingPipeline = definePipeline('operator-fuzz', { parameters: demoPipeline.parameters })
  .step('prepare', { kind: 'echo', spec: { message: 'prepare {{region}} up to {{cutoff}}' } })
  .step('left.train', { kind: 'echo', after: ['prepare'], spec: { message: '{{epochs}} epochs' } })
  .step('right.train', {
    kind: 'broken',
    after: ['prepare'],
    onFailure: 'wait',
    retry: { maximumAttempts: 1 },
  })
  .step('promote', { kind: 'gate', after: ['left.train', 'right.train'], approval: true })
  .build();

const TOKEN = 'fuzz-admin-secret';
/** Fixed, so a CI failure reproduces; FUZZ_SEED explores other inputs. */
const SEED = process.env.FUZZ_SEED ?? '20261201';
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'response_schema_conformance',
  'content_type_conformance',
  'negative_data_rejection',
  'positive_data_acceptance',
  'unsupported_method',
];

interface Report {
  exit_code: number;
  running_time: number;
  complete: boolean;
  phases: Record<string, { status: string; skip_reason: string | null }>;
  test_cases: { generated: number; with_failures: number; errored: number };
  failures: unknown[];
  errors: unknown[];
}

/** One request as the server answered it, with the schemathesis invocation that sent it. */
interface Served {
  invocation: string;
  method: string;
  path: string;
  status: number;
}

/**
 * Schemathesis (PyPI, .venv) against the API's own OpenAPI document, over HTTP, with a real worker and
 * a Temporal dev server behind the API: examples, coverage and fuzzing over every operation, then the
 * stateful phase following the document's links (a started run → its page → its actions, a created
 * schedule → its operations). No 5xx, no undocumented status, every response as documented,
 * schema-violating requests rejected and schema-valid ones accepted (test/e2e/schemathesis.toml
 * lists the documented exceptions).
 *
 * The stateful phase runs once per resource (`/runs`, `/schedules`): schemathesis starts scenarios
 * only at the operations it deems reliable roots, and its dependency analysis takes `reuseRunId` for
 * a reference nothing produces, so with schedules in the same run no scenario would start a run.
 */
describe('API fuzz from the OpenAPI document (schemathesis)', () => {
  let stack: ApiStack;
  const served: Served[] = [];
  beforeAll(async () => {
    stack = await startApiStack({
      pipelines: [demoPipeline, waitingPipeline],
      kinds: operatorKinds as never,
      tokens: `fuzzer:admin:${TOKEN}`,
      // The fuzzer sends hundreds of requests a minute and starts runs: the limits are the subject of
      // other tests (api-roles); a backfill is capped low so a window never starts many runs here.
      config: { API_RATE_LIMIT: '1000000', API_START_RATE_LIMIT: '1000000', API_BACKFILL_MAX_RUNS: '3' },
    });
    stack.app.getHttpServer().on('request', (request: IncomingMessage, response: ServerResponse) =>
      response.on('finish', () =>
        served.push({
          invocation: String(request.headers['x-fuzz-invocation'] ?? ''),
          method: request.method ?? '',
          path: (request.url ?? '').split('?')[0]!,
          status: response.statusCode,
        }),
      ),
    );
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** One schemathesis run (its requests carry `X-Fuzz-Invocation: <name>`); its JSON report and output. */
  async function schemathesis(name: string, args: string[]) {
    const dir = testTempDir(`api-fuzz-${name}`);
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        join(projectRoot, '.venv', 'bin', 'schemathesis'),
        [
          '--config-file',
          join(projectRoot, 'test', 'e2e', 'schemathesis.toml'),
          'run',
          `${stack.base}/docs-json`,
          '--header',
          `Authorization: Bearer ${TOKEN}`,
          '--header',
          `X-Fuzz-Invocation: ${name}`,
          '--checks',
          CHECKS.join(','),
          '--max-examples',
          '60',
          '--seed',
          SEED,
          '--workers',
          '2',
          '--request-timeout',
          '90',
          '--generation-database',
          'none',
          '--no-color',
          '--report',
          'json,junit',
          '--report-dir',
          dir,
          ...args,
        ],
        { cwd: dir, timeout: 480_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
      );
    });
    const reportFile = readdirSync(dir).find((file) => file.startsWith('json-') && file.endsWith('.json'));
    expect(reportFile, result.output).toBeDefined();
    const report = JSON.parse(readFileSync(join(dir, reportFile!), 'utf8')) as Report;
    // The failures, with a curl line each to reproduce them, are in the output.
    expect({ failures: report.failures, errors: report.errors }, result.output).toEqual({
      failures: [],
      errors: [],
    });
    expect(report.complete, name).toBe(true);
    expect(report.test_cases.with_failures, name).toBe(0);
    expect(report.test_cases.errored, name).toBe(0);
    expect(result.code, result.output).toBe(0);
    return { report, output: result.output, requests: served.filter((r) => r.invocation === name) };
  }

  /** `GET /runs/{id}`, `POST /schedules/{id}/pause`…: the operation of a path under `/runs/` or `/schedules/`. */
  const operationOf = ({ method, path }: Served) =>
    `${method} ${path
      .replace(/^\/(runs|schedules)\/[^/]+/, '/$1/{id}')
      .replace(/\/steps\/[^/]+/, '/steps/{step}')
      .replace(/\/items\/[^/]+/, '/items/{item}')}`;
  /**
   * Requests on one run or schedule answered 2xx: the id came from a link (an id the API created in
   * the scenario); a generated id names nothing and gets 404.
   */
  const onLinkedIds = (requests: Served[], resource: 'runs' | 'schedules') =>
    requests.filter(
      (r) => r.status >= 200 && r.status < 300 && new RegExp(`^/${resource}/[^/]+`).test(r.path),
    );

  it('finds no failure in at least 1,000 generated requests, and the stateful phase follows the links', async () => {
    const started = Date.now();
    const [generated, runs, schedules] = await Promise.all([
      schemathesis('generated', ['--phases', 'examples,coverage,fuzzing']),
      schemathesis('stateful-runs', ['--phases', 'stateful', '--include-path-regex', '^/runs']),
      schemathesis('stateful-schedules', ['--phases', 'stateful', '--include-path-regex', '^/schedules']),
    ]);
    const seconds = Math.round((Date.now() - started) / 1000);

    expect(generated.report.test_cases.generated).toBeGreaterThanOrEqual(1000);
    // Counted by the server too (each generated case is one request).
    expect(generated.requests.length).toBeGreaterThanOrEqual(generated.report.test_cases.generated);
    for (const phase of ['examples', 'coverage', 'fuzzing'])
      expect(generated.report.phases[phase]?.status, `${phase} phase`).toBe('success');

    for (const stateful of [runs, schedules])
      expect(stateful.report.phases.stateful?.status, stateful.output).toBe('success');
    // Scenarios started runs and schedules, then acted on those very ones through the links.
    const created = (requests: Served[], path: string) =>
      requests.filter((r) => r.method === 'POST' && r.path === path && r.status === 201).length;
    const linkedRuns = onLinkedIds(runs.requests, 'runs');
    const linkedSchedules = onLinkedIds(schedules.requests, 'schedules');
    const summary = {
      seconds,
      requests: Object.fromEntries(
        [generated, runs, schedules].map((invocation, i) => [i, invocation.requests.length]),
      ),
      runsStarted: created(runs.requests, '/runs'),
      schedulesCreated: created(schedules.requests, '/schedules'),
      linkedRuns: [...new Set(linkedRuns.map(operationOf))],
      linkedSchedules: [...new Set(linkedSchedules.map(operationOf))],
    };
    expect(runs.requests.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(100);
    expect(schedules.requests.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(40);
    expect(summary.runsStarted, JSON.stringify(summary)).toBeGreaterThanOrEqual(10);
    expect(summary.schedulesCreated, JSON.stringify(summary)).toBeGreaterThanOrEqual(5);
    expect(linkedRuns.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(10);
    expect(linkedSchedules.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(10);
    // The run's page and an action on it; a schedule's page or change and two of its operations.
    expect(summary.linkedRuns, JSON.stringify(summary)).toContain('GET /runs/{id}');
    expect(summary.linkedRuns.filter((op) => op.startsWith('POST')).length).toBeGreaterThanOrEqual(1);
    expect(summary.linkedSchedules.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(3);
    console.log(`api fuzz: ${JSON.stringify(summary)}`);
  }, 600_000);
});

import type { OpenAPIObject } from '@nestjs/swagger';
import type { PipelineRegistry } from '../pipelines';
import type { ParameterDefinition, PipelineDefinition } from '../pipelines/core/types';
import { DURATION_PATTERN } from './validation';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[] };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The JSON Schema of one declared run parameter, as the API checks it (strict JSON types). */
export function parameterJsonSchema(parameter: ParameterDefinition): Schema {
  const base: Schema =
    parameter.type === 'number'
      ? { type: 'number' }
      : parameter.type === 'boolean'
        ? { type: 'boolean' }
        : parameter.type === 'date'
          ? { type: 'string', format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }
          : parameter.type === 'duration'
            ? { type: 'string', pattern: DURATION_PATTERN.source }
            : { type: 'string' };
  return {
    ...base,
    ...(parameter.choices ? { enum: parameter.choices } : {}),
    ...(parameter.description ? { description: parameter.description } : {}),
    ...(parameter.default !== undefined ? { default: parameter.default } : {}),
    ...(parameter.privileged ? { 'x-privileged': true } : {}),
  };
}

/** A pipeline's `params` object: its declared parameters only, required where there is no default. */
function paramsSchema(definition: PipelineDefinition): Schema {
  const entries = Object.entries(definition.parameters);
  const required = entries.filter(([, p]) => p.default === undefined).map(([name]) => name);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(entries.map(([name, p]) => [name, parameterJsonSchema(p)])),
    ...(required.length ? { required } : {}),
    description: `Parameters of ${definition.name} (privileged ones need the admin role)`,
  };
}

/** Parameters of any pipeline (PATCH /schedules/:id, whose pipeline the path does not say). */
function anyParamsSchema(pipelines: PipelineRegistry): Schema {
  const variants = new Map<string, Map<string, Schema>>();
  for (const definition of pipelines.values()) {
    for (const [name, parameter] of Object.entries(definition.parameters)) {
      const schema = parameterJsonSchema(parameter);
      const known = variants.get(name) ?? new Map<string, Schema>();
      known.set(JSON.stringify(schema), schema);
      variants.set(name, known);
    }
  }
  // A name declared differently by two pipelines: either form (the schedule's pipeline decides).
  const properties = Object.fromEntries(
    [...variants].map(([name, known]) => {
      const schemas = [...known.values()];
      return [name, schemas.length === 1 ? schemas[0]! : { anyOf: schemas }];
    }),
  );
  return {
    type: 'object',
    additionalProperties: false,
    properties,
    description: "Parameters of the schedule's pipeline",
  };
}

const without = (schema: Schema, names: string[]): Schema => ({
  ...schema,
  properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([k]) => !names.includes(k))),
  required: (schema.required ?? []).filter((name) => !names.includes(name)),
});

/**
 * Makes the generated document as strict as the API: request bodies take no undeclared property
 * (the validation pipe forbids them), pipeline names are the catalog's, each pipeline's `params`
 * are its declared parameters with their JSON types, and `from` comes with `reuseRunId`. What JSON
 * Schema cannot say (a run to reuse exists, a backfill window's start before its end, allow-lists
 * the worker holds) is answered 400/404 naming the field.
 */
export function refineDocument(document: OpenAPIObject, pipelines: PipelineRegistry): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const names = [...pipelines.keys()];
  const operations = Object.values(document.paths).flatMap((item) =>
    ['get', 'post', 'patch', 'put', 'delete']
      .map((method) => (item as Record<string, unknown>)[method])
      .filter(Boolean),
  ) as {
    requestBody?: { content: Record<string, { schema?: { $ref?: string } }> };
    parameters?: { name: string; in: string; schema?: Schema }[];
  }[];

  // PATCH /schedules/:id must change something.
  if (schemas.UpdateScheduleDto) schemas.UpdateScheduleDto.minProperties = 1;
  for (const operation of operations) {
    const body = operation.requestBody as
      { required?: boolean; content: Record<string, { schema?: { $ref?: string } }> } | undefined;
    const target = body?.content['application/json']?.schema?.$ref?.split('/').pop();
    const schema = target ? schemas[target] : undefined;
    if (!body || !schema) continue;
    schema.additionalProperties = false;
    // A body whose every property is optional may be left out (approve, pause, unpause).
    if (!schema.required?.length && !schema.minProperties) body.required = false;
  }

  const createRun = schemas.CreateRunDto;
  const runBody = document.paths['/runs']?.post?.requestBody as
    { content: Record<string, { schema: unknown }> } | undefined;
  if (createRun && runBody && names.length) {
    const variants: string[] = [];
    for (const definition of pipelines.values()) {
      const common = {
        ...createRun,
        properties: {
          ...createRun.properties,
          pipeline: { type: 'string', enum: [definition.name] },
          params: paramsSchema(definition),
        },
      };
      const fresh = `CreateRunDto.${definition.name}`;
      schemas[fresh] = { ...without(common, ['from', 'reuseRunId']), title: `start ${definition.name}` };
      const rerun = `RerunDto.${definition.name}`;
      schemas[rerun] = {
        ...common,
        title: `rerun part of a ${definition.name} run`,
        properties: {
          ...common.properties,
          from: { ...createRun.properties?.from, type: 'string', enum: definition.steps.map((s) => s.id) },
        },
        required: [...new Set([...(createRun.required ?? []), 'from', 'reuseRunId'])],
      };
      variants.push(fresh, rerun);
    }
    runBody.content['application/json'] = { schema: { oneOf: variants.map(ref) } };
  }

  const createSchedule = schemas.CreateScheduleDto;
  const scheduleBody = document.paths['/schedules']?.post?.requestBody as
    { content: Record<string, { schema: unknown }> } | undefined;
  if (createSchedule && scheduleBody && names.length) {
    const variants = [...pipelines.values()].map((definition) => {
      const name = `CreateScheduleDto.${definition.name}`;
      schemas[name] = {
        ...createSchedule,
        title: `schedule ${definition.name}`,
        properties: {
          ...createSchedule.properties,
          pipeline: { type: 'string', enum: [definition.name] },
          params: paramsSchema(definition),
        },
      };
      return name;
    });
    scheduleBody.content['application/json'] = { schema: { oneOf: variants.map(ref) } };
  }
  const updateSchedule = schemas.UpdateScheduleDto;
  if (updateSchedule?.properties) {
    updateSchedule.properties.params = anyParamsSchema(pipelines);
  }

  addErrorResponses(document);
  addLinks(document);

  const listRuns = document.paths['/runs']?.get as { parameters?: { name: string; schema?: Schema }[] };
  const pipelineFilter = listRuns?.parameters?.find((parameter) => parameter.name === 'pipeline');
  if (pipelineFilter && names.length) pipelineFilter.schema = { type: 'string', enum: names };
  return document;
}

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: unknown;
  parameters?: { in: string }[];
  responses: Record<string, { description?: string; content?: unknown; links?: unknown }>;
};

function operationsOf(document: OpenAPIObject): { path: string; method: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>)
      .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
      .map(([method, operation]) => ({ path, method, operation })),
  );
}

/** Routes that answer from the catalog alone (no Temporal call). */
const CATALOG_ONLY = new Set(['get /pipelines', 'get /pipelines/{name}']);

/**
 * The error answers every route can give, each with the error body's schema: 400 for a body or
 * query that fails validation (or is not JSON), 404 where the path names something, 413 for a body
 * over API_BODY_LIMIT, 503 when Temporal or the worker does not answer.
 */
function addErrorResponses(document: OpenAPIObject): void {
  document.components ??= {};
  document.components.schemas ??= {};
  document.components.schemas.ErrorDto = {
    type: 'object',
    required: ['statusCode', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      message: {
        oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        description: 'What was wrong, naming the field',
      },
      error: { type: 'string' },
    },
  };
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: ref('ErrorDto') } },
  });
  for (const { path, method, operation } of operationsOf(document)) {
    if (!operation.security?.length) continue; // /health answers only up or down
    const add = (code: string, description: string) => {
      const existing = operation.responses[code];
      operation.responses[code] = existing
        ? { ...existing, content: existing.content ?? error('').content }
        : error(description);
    };
    add('401', 'Missing or invalid bearer token');
    add('429', 'Rate limit (API_RATE_LIMIT, API_START_RATE_LIMIT) reached');
    if (path !== '/metrics') add('403', "The token's role does not allow this");
    const hasQuery = (operation.parameters ?? []).some((parameter) => parameter.in === 'query');
    if (method === 'post' || method === 'patch' || hasQuery)
      add('400', 'Invalid request (the message names the field)');
    if (method === 'post' || method === 'patch') add('413', 'Body larger than API_BODY_LIMIT');
    if (path.includes('{')) add('404', 'Nothing has that id or name');
    if (!CATALOG_ONLY.has(`${method} ${path}`) && path !== '/metrics')
      add('503', 'Temporal or the worker does not answer (no worker planned the run in time)');
  }
}

/** OpenAPI links: what a created run or schedule can be followed by (the fuzzer's stateful phase uses them). */
function addLinks(document: OpenAPIObject): void {
  const byId = new Map(
    operationsOf(document).map(({ operation }) => [operation.operationId ?? '', operation] as const),
  );
  const link = (operationId: string, parameter: string, expression: string) =>
    byId.has(operationId) ? { [operationId]: { operationId, parameters: { [parameter]: expression } } } : {};
  const started = byId.get('RunsController_start')?.responses['201'];
  if (started)
    started.links = {
      ...link('RunsController_get', 'id', '$response.body#/workflowId'),
      ...link('RunsController_approve', 'id', '$response.body#/workflowId'),
      ...link('RunsController_abort', 'id', '$response.body#/workflowId'),
      ...link('RunsController_retry', 'id', '$response.body#/workflowId'),
      ...link('RunsController_rerun', 'id', '$response.body#/workflowId'),
      ...link('RunsController_markSucceeded', 'id', '$response.body#/workflowId'),
    };
  // A run's page names its planned steps: its step actions can take one of them (the run's id from
  // the request's path, a step id from the plan; until the plan exists there is none to take).
  const shown = byId.get('RunsController_get')?.responses['200'];
  if (shown)
    shown.links = Object.assign(
      {},
      ...['retry', 'rerun', 'markSucceeded'].map((name) =>
        byId.has(`RunsController_${name}`)
          ? {
              [`RunsController_${name}`]: {
                operationId: `RunsController_${name}`,
                parameters: { id: '$request.path.id', step: '$response.body#/run/plan/steps/*/id' },
              },
            }
          : {},
      ),
      link('RunsController_approve', 'id', '$request.path.id'),
      link('RunsController_abort', 'id', '$request.path.id'),
    );
  const arrived = byId.get('PipelinesController_arrival')?.responses['200'];
  if (arrived) arrived.links = link('RunsController_get', 'id', '$response.body#/workflowId');
  const created = byId.get('SchedulesController_create')?.responses['201'];
  if (created)
    created.links = Object.assign(
      {},
      ...['get', 'update', 'trigger', 'pause', 'unpause', 'backfill', 'remove'].map((name) =>
        link(`SchedulesController_${name}`, 'id', '$response.body#/id'),
      ),
    );
}

import { ancestors, findCycle } from './graph';
import { isDuration } from './params';
import { BUILTIN_TEMPLATE_NAMES, parseStepReference, templateNames } from './templates';
import { MAX_STATIC_STEPS } from './limits';
import { isItemTemplate, mapProblems, sourceParameter } from './map';
import type { JsonPrimitive, ParameterDefinition, PipelineDefinition, StepDefinition } from './types';

export type PipelineIssueCode =
  | 'invalid-name'
  | 'duplicate-step'
  | 'unknown-dependency'
  | 'cycle'
  | 'unknown-parameter'
  | 'invalid-parameter'
  | 'invalid-step-reference'
  | 'invalid-step'
  | 'too-many-steps'
  | 'invalid-map';

/** One problem in a definition, naming the offending step and/or parameter. */
export interface PipelineIssue {
  code: PipelineIssueCode;
  message: string;
  step?: string;
  parameter?: string;
}

export class PipelineValidationError extends Error {
  override readonly name = 'PipelineValidationError';
  constructor(
    readonly pipeline: string,
    readonly issues: PipelineIssue[],
  ) {
    super(`pipeline ${pipeline} is invalid: ${issues.map((issue) => issue.message).join('; ')}`);
  }
}

const PIPELINE_NAME = /^[a-z][a-z0-9-]*$/;
const STEP_ID = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const PARAMETER_NAME = /^[a-z][a-z0-9_]*$/;
const OUTPUT_NAME = /^[a-z][a-z0-9_]*$/;

/** Every problem of a definition at once (an empty list means valid). */
export function validatePipeline(definition: PipelineDefinition): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  if (!PIPELINE_NAME.test(definition.name)) {
    issues.push({
      code: 'invalid-name',
      message: `pipeline name "${definition.name}" must match ${PIPELINE_NAME}`,
    });
  }
  for (const [name, parameter] of Object.entries(definition.parameters)) {
    issues.push(...parameterIssues(name, parameter));
  }
  if (definition.steps.length > MAX_STATIC_STEPS) {
    issues.push({
      code: 'too-many-steps',
      message:
        `pipeline ${definition.name} has ${definition.steps.length} steps; at most ${MAX_STATIC_STEPS} ` +
        'static steps fit in one run (plan size and history limits): fan out with a map step instead ' +
        '(docs/map-steps.md)',
    });
    // Checking each of thousands of steps would only repeat the point (and take quadratic time).
    return issues;
  }
  const ids = new Set<string>();
  for (const step of definition.steps) {
    if (ids.has(step.id)) {
      issues.push({ code: 'duplicate-step', step: step.id, message: `step ${step.id} is defined twice` });
    }
    ids.add(step.id);
    issues.push(...stepShapeIssues(step));
    for (const message of mapProblems(step, definition.steps))
      issues.push({ code: 'invalid-map', step: step.id, message });
    const listParameter = step.map && sourceParameter(step.map.forEach);
    if (listParameter && definition.parameters[listParameter]?.type !== 'string') {
      issues.push({
        code: 'invalid-map',
        step: step.id,
        parameter: listParameter,
        message: `step ${step.id}: map.forEach parameter ${listParameter} must be a declared string parameter`,
      });
    }
  }
  for (const step of definition.steps) {
    for (const dependency of step.after) {
      if (!ids.has(dependency)) {
        issues.push({
          code: 'unknown-dependency',
          step: step.id,
          message: `step ${step.id} runs after unknown step ${dependency}`,
        });
      }
    }
  }
  const cycle = findCycle(definition.steps);
  if (cycle) {
    issues.push({ code: 'cycle', step: cycle[0], message: `steps form a cycle: ${cycle.join(' → ')}` });
  } else {
    issues.push(...templateIssues(definition));
  }
  return issues;
}

/** Throws a PipelineValidationError naming every problem; returns the definition when valid. */
export function assertValidPipeline(definition: PipelineDefinition): PipelineDefinition {
  const issues = validatePipeline(definition);
  if (issues.length > 0) throw new PipelineValidationError(definition.name, issues);
  return definition;
}

function parameterIssues(name: string, parameter: ParameterDefinition): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const bad = (message: string) => issues.push({ code: 'invalid-parameter', parameter: name, message });
  if (!PARAMETER_NAME.test(name)) bad(`parameter name "${name}" must match ${PARAMETER_NAME}`);
  if ((BUILTIN_TEMPLATE_NAMES as readonly string[]).includes(name) || name === 'item')
    bad(`parameter ${name} shadows a built-in`);
  const values: JsonPrimitive[] = [...(parameter.default === undefined ? [] : [parameter.default])];
  values.push(...(parameter.choices ?? []));
  for (const value of values) {
    if (!matchesType(parameter, value))
      bad(`parameter ${name}: ${JSON.stringify(value)} is not a ${parameter.type}`);
  }
  if (
    parameter.choices &&
    parameter.default !== undefined &&
    !parameter.choices.includes(parameter.default)
  ) {
    bad(`parameter ${name}: default ${JSON.stringify(parameter.default)} is not one of its choices`);
  }
  if (parameter.min !== undefined || parameter.max !== undefined) {
    const { min, max } = parameter;
    if (parameter.type !== 'number') bad(`parameter ${name}: min/max apply to number parameters only`);
    else if (min !== undefined && max !== undefined && min > max)
      bad(`parameter ${name}: min ${min} > max ${max}`);
    else if (
      typeof parameter.default === 'number' &&
      ((min !== undefined && parameter.default < min) || (max !== undefined && parameter.default > max))
    )
      bad(`parameter ${name}: default ${parameter.default} is outside min/max`);
  }
  return issues;
}

function matchesType(parameter: ParameterDefinition, value: JsonPrimitive): boolean {
  if (parameter.type === 'duration') return isDuration(value);
  if (parameter.type === 'date') return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
  return typeof value === parameter.type;
}

function stepShapeIssues(step: StepDefinition): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const bad = (message: string) => issues.push({ code: 'invalid-step', step: step.id, message });
  if (!STEP_ID.test(step.id)) bad(`step id "${step.id}" must match ${STEP_ID}`);
  if (!step.kind) bad(`step ${step.id} has no kind`);
  if (!step.version) bad(`step ${step.id} has no version`);
  if (step.after.includes(step.id)) {
    issues.push({ code: 'cycle', step: step.id, message: `step ${step.id} runs after itself` });
  }
  const outputs = new Set<string>();
  for (const output of step.outputs) {
    if (!OUTPUT_NAME.test(output)) bad(`step ${step.id}: output name "${output}" must match ${OUTPUT_NAME}`);
    if (outputs.has(output)) bad(`step ${step.id}: output ${output} is declared twice`);
    outputs.add(output);
  }
  if (step.retry?.maximumAttempts !== undefined && step.retry.maximumAttempts < 0) {
    bad(`step ${step.id}: retry.maximumAttempts must be >= 0`);
  }
  return issues;
}

function templateIssues(definition: PipelineDefinition): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const byId = new Map(definition.steps.map((step) => [step.id, step]));
  for (const step of definition.steps) {
    const names = [
      ...templateNames(step.spec),
      ...templateNames(step.repo?.ref),
      ...templateNames(step.repo?.url),
      ...templateNames(typeof step.approval === 'string' ? step.approval : undefined),
      ...(Array.isArray(step.map?.forEach) ? templateNames(step.map.forEach) : []),
    ];
    // Only steps that reference others need their ancestors (computing them for each is quadratic).
    let upstream: Set<string> | undefined;
    for (const name of new Set(names)) {
      if (isItemTemplate(name)) {
        if (!step.map)
          issues.push({
            code: 'invalid-map',
            step: step.id,
            message: `step ${step.id} references {{${name}}} but is not a map step`,
          });
        continue;
      }
      const reference = parseStepReference(name);
      if (reference) {
        const target = byId.get(reference.step);
        const problem = !target
          ? `unknown step ${reference.step}`
          : !(upstream ??= ancestors(definition.steps, step.id)).has(reference.step)
            ? `step ${reference.step}, which is not upstream of it`
            : !target.outputs.includes(reference.output)
              ? `output ${reference.output}, which step ${reference.step} does not declare`
              : undefined;
        if (problem) {
          issues.push({
            code: 'invalid-step-reference',
            step: step.id,
            message: `step ${step.id} references {{${name}}}: ${problem}`,
          });
        }
      } else if (
        !Object.hasOwn(definition.parameters, name) &&
        !(BUILTIN_TEMPLATE_NAMES as readonly string[]).includes(name)
      ) {
        issues.push({
          code: 'unknown-parameter',
          step: step.id,
          parameter: name,
          message: `step ${step.id} references unknown parameter ${name}`,
        });
      }
    }
  }
  return issues;
}

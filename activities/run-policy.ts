import { msToNumber } from '@temporalio/common';
import { resolve } from 'node:path';
import { configList, type Config } from '../config';
import { acceleratorPrice, machineTypePrice, PRICES } from '../config/prices';
import type { JsonObject, JsonPrimitive, PipelineDefinition, PlannedStep } from '../pipelines/core/types';

/**
 * What a run may reach outside itself, from the worker's configuration: model repositories, dataset
 * projects, persistent instances, machine types, accelerators, and the most its trainings may cost.
 * The plan checks every run against it (docs/security.md), so the API's dry run and checks before a
 * start, schedules and a run started from the Web UI all meet the same rules.
 */
export interface RunPolicy {
  modelsRepos: string[];
  datasetProjects: string[];
  instances: string[];
  machineTypes: string[];
  accelerators: string[];
  maxAccelerators: number;
  costCeilingUsd: number;
}

export function runPolicyFromConfig(config: Config): RunPolicy {
  const machineTypes = configList(config.ALLOWED_MACHINE_TYPES);
  const accelerators = configList(config.ALLOWED_ACCELERATORS);
  return {
    modelsRepos: configList(config.MODELS_REPOS),
    datasetProjects: configList(config.ALLOWED_DATASET_PROJECTS),
    instances: configList(config.ALLOWED_INSTANCES),
    machineTypes: machineTypes.length > 0 ? machineTypes : Object.keys(PRICES.machineTypes),
    accelerators: accelerators.length > 0 ? accelerators : Object.keys(PRICES.accelerators),
    maxAccelerators: config.MAX_ACCELERATORS,
    costCeilingUsd: config.RUN_COST_CEILING_USD,
  };
}

/** A problem with the field it concerns (`params.source_dataset`, `step quality.train: vm.machineType`). */
export interface PolicyProblem {
  field: string;
  message: string;
}

const DATASET = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const INSTANCE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

const looksLikeUrl = (value: string) =>
  /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && !/^[A-Za-z]:[\\/]/.test(value);

/** Whether a repository URL or path is one MODELS_REPOS lists (local paths compared resolved). */
export function repoAllowed(policy: Pick<RunPolicy, 'modelsRepos'>, url: string): boolean {
  if (url.startsWith('-') || url.length === 0) return false;
  return policy.modelsRepos.some((allowed) =>
    looksLikeUrl(allowed) || looksLikeUrl(url) ? allowed === url : resolve(allowed) === resolve(url),
  );
}

/** Checks one value of a parameter that names a resource; undefined when it is allowed. */
export function resourceProblem(
  policy: RunPolicy,
  resource: NonNullable<PipelineDefinition['parameters'][string]['resource']>,
  value: JsonPrimitive,
): string | undefined {
  const text = String(value ?? '');
  switch (resource) {
    case 'dataset': {
      const parts = text.split('.');
      if (parts.length === 1)
        return DATASET.test(text) ? undefined : `${JSON.stringify(text)} is not a dataset name`;
      if (parts.length !== 2 || !PROJECT.test(parts[0] as string) || !DATASET.test(parts[1] as string))
        return `${JSON.stringify(text)} is not a dataset name or project.dataset`;
      return policy.datasetProjects.includes(parts[0] as string)
        ? undefined
        : `project ${parts[0]} is not allowed (ALLOWED_DATASET_PROJECTS); name a dataset of the warehouse's project`;
    }
    case 'instance':
      if (!INSTANCE.test(text)) return `${JSON.stringify(text)} is not an instance name`;
      return policy.instances.includes(text)
        ? undefined
        : `instance ${text} is not allowed (ALLOWED_INSTANCES: ${policy.instances.join(', ') || 'none'})`;
    case 'machine-type':
      return policy.machineTypes.includes(text)
        ? undefined
        : `machine type ${JSON.stringify(text)} is not allowed (ALLOWED_MACHINE_TYPES)`;
    case 'accelerator':
      return acceleratorProblem(policy, text);
    case 'models-repo':
      return repoAllowed(policy, text)
        ? undefined
        : `repository ${JSON.stringify(text)} is not in MODELS_REPOS`;
  }
}

/** `type:count` or empty for none; the type allow-listed, the count within MAX_ACCELERATORS. */
export function acceleratorProblem(policy: RunPolicy, text: string): string | undefined {
  if (text === '') return undefined;
  const match = /^([a-z0-9-]+)(?::(\d{1,3}))?$/.exec(text);
  if (!match) return `${JSON.stringify(text)} is not an accelerator type:count`;
  const count = Number(match[2] ?? '1');
  if (!policy.accelerators.includes(match[1] as string))
    return `accelerator ${match[1]} is not allowed (ALLOWED_ACCELERATORS)`;
  if (count < 1 || count > policy.maxAccelerators)
    return `accelerator count ${count} is outside 1..${policy.maxAccelerators} (MAX_ACCELERATORS)`;
  return undefined;
}

/** Parameters marked `resource` checked against the policy, each problem naming its parameter. */
export function parameterProblems(
  definition: Pick<PipelineDefinition, 'parameters'>,
  params: Record<string, JsonPrimitive>,
  policy: RunPolicy,
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  for (const [name, parameter] of Object.entries(definition.parameters)) {
    if (!parameter.resource || !Object.hasOwn(params, name)) continue;
    const problem = resourceProblem(policy, parameter.resource, params[name] as JsonPrimitive);
    if (problem) problems.push({ field: `params.${name}`, message: `parameter ${name}: ${problem}` });
  }
  return problems;
}

/** The VM a planned step asks for, when its spec has one (`vm` with a training's `maxDuration`). */
function vmOf(step: PlannedStep): { vm: JsonObject; hours: number | undefined } | undefined {
  const vm = step.spec.vm;
  if (!vm || typeof vm !== 'object' || Array.isArray(vm)) return undefined;
  const duration = step.spec.maxDuration;
  let hours: number | undefined;
  try {
    hours = typeof duration === 'string' ? msToNumber(duration as never) / 3_600_000 : undefined;
  } catch {
    hours = undefined; // an invalid duration is the spec validation's to report
  }
  return { vm, hours };
}

/** Machine type assumed for a VM whose spec and image name none (priced, never free). */
const FALLBACK_MACHINE_TYPE = 'n1-standard-4';
const dearest = (table: Record<string, number>) => Math.max(0, ...Object.values(table));

/** Hourly list price of a VM spec; a type missing from the table costs as much as the dearest listed. */
export function vmHourlyPrice(vm: JsonObject): number {
  const image =
    typeof vm.machineImage === 'string' && Object.hasOwn(PRICES.machineImages, vm.machineImage)
      ? PRICES.machineImages[vm.machineImage]
      : undefined;
  const machineType =
    typeof vm.machineType === 'string' && vm.machineType !== ''
      ? vm.machineType
      : (image?.machineType ?? FALLBACK_MACHINE_TYPE);
  const named = typeof vm.accelerator === 'string' ? /^([a-z0-9-]+)(?::(\d+))?$/.exec(vm.accelerator) : null;
  const accelerator = named
    ? { type: named[1] as string, count: Number(named[2] ?? '1') }
    : typeof vm.accelerator === 'string'
      ? undefined // '' is "none"
      : image?.accelerator;
  return (
    (machineTypePrice(machineType) ?? dearest(PRICES.machineTypes)) +
    (accelerator
      ? accelerator.count * (acceleratorPrice(accelerator.type) ?? dearest(PRICES.accelerators))
      : 0)
  );
}

/** Upper bound of a run's VM cost at list prices: every VM step at its maximum duration. */
export function estimateRunCostUsd(steps: PlannedStep[]): number {
  let total = 0;
  for (const step of steps) {
    const found = vmOf(step);
    if (found?.hours !== undefined) total += found.hours * vmHourlyPrice(found.vm);
  }
  return Math.round(total * 100) / 100;
}

/**
 * The allow-list problems of one VM spec (machine type, accelerator, persistent instance name), each
 * naming its field (`vm.machineType`). `skipItemFields`: leave out fields still holding an
 * `{{item…}}` template (the plan's view of a map step; each item is checked when it runs).
 */
export function vmProblems(
  vm: JsonObject,
  policy: RunPolicy,
  skipItemFields = false,
): { field: string; problem: string }[] {
  const problems: { field: string; problem: string }[] = [];
  const check = (field: string, problem: string | undefined) => {
    if (problem) problems.push({ field: `vm.${field}`, problem });
  };
  const skip = (value: string) => skipItemFields && value.includes('{{item');
  if (typeof vm.machineType === 'string' && vm.machineType !== '' && !skip(vm.machineType))
    check('machineType', resourceProblem(policy, 'machine-type', vm.machineType));
  if (typeof vm.accelerator === 'string' && !skip(vm.accelerator))
    check('accelerator', acceleratorProblem(policy, vm.accelerator));
  if (vm.persistent === true && typeof vm.name === 'string' && !skip(vm.name))
    check('name', resourceProblem(policy, 'instance', vm.name));
  return problems;
}

/** The planned steps' VMs (machine type, accelerator, instance) and the run's cost against the policy. */
export function planProblems(steps: PlannedStep[], policy: RunPolicy): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  for (const step of steps) {
    const found = vmOf(step);
    if (!found) continue;
    // A map item's field (`{{item.machine_type}}`) is known only when the item runs: it comes from an
    // upstream step's output (e.g. a configuration file at the pinned commit), not from a parameter.
    // prepareTrainingStep checks each item's resolved VM (itemVmProblem) before anything is provisioned.
    for (const { field, problem } of vmProblems(found.vm, policy, true))
      problems.push({ field: `step ${step.id}: ${field}`, message: `step ${step.id}: ${field}: ${problem}` });
  }
  const cost = estimateRunCostUsd(steps);
  if (cost > policy.costCeilingUsd) {
    problems.push({
      field: 'cost',
      message: `the run's trainings may cost up to ${cost} USD at list prices, above RUN_COST_CEILING_USD (${policy.costCeilingUsd}); lower max_training_duration or the machines`,
    });
  }
  return problems;
}

/**
 * Why a map item's resolved VM is not allowed (its `{{item…}}` fields filled), or undefined: the
 * message names the step, the item and the field (`step s, item #3 ("gpu-box"): vm.machineType: …`).
 */
export function itemVmProblem(
  step: { id: string; spec: JsonObject },
  item: { index: number; value: unknown },
  policy: RunPolicy,
): string | undefined {
  const vm = step.spec.vm;
  if (!vm || typeof vm !== 'object' || Array.isArray(vm)) return undefined;
  const problems = vmProblems(vm, policy);
  if (problems.length === 0) return undefined;
  const shown = JSON.stringify(item.value)?.slice(0, 80) ?? '';
  return `step ${step.id}, item #${item.index} (${shown}): ${problems.map(({ field, problem }) => `${field}: ${problem}`).join('; ')}`;
}

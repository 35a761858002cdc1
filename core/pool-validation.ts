import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { packageRoot } from './paths.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_KIND, type Pool, type PoolSpec } from './pool-types.js';

export interface ValidationProblem {
  /** Dotted path of the offending field, e.g. `spec.capacity`. */
  field: string;
  message: string;
}

export type PoolValidation = { ok: true; pool: Pool } | { ok: false; problems: ValidationProblem[] };

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  [keyword: string]: unknown;
}

/** The CRD's own openAPIV3Schema, so standalone files obey the same contract as kubectl apply. */
export function loadPoolSchema(): JsonSchema {
  const crd = loadYaml(readFileSync(join(packageRoot, 'crds', 'voiceagentpool.yaml'), 'utf8')) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: JsonSchema } }[] };
  };
  const version = crd.spec.versions.find((v) => v.name === POOL_API_VERSION);
  if (!version) throw new Error(`crds/voiceagentpool.yaml has no version ${POOL_API_VERSION}`);
  return version.schema.openAPIV3Schema;
}

/**
 * The API server rejects unknown fields (kubectl's strict field validation),
 * so an object schema that lists its properties admits no others here either.
 * metadata is the API server's, not ours: it stays open.
 */
function closeObjects(schema: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, closeObjects(v, path ? `${path}.${k}` : k)]),
    );
    if (schema.additionalProperties === undefined && path !== 'metadata') out.additionalProperties = false;
  }
  if (schema.items) out.items = closeObjects(schema.items, `${path}[]`);
  return out;
}

let compiled: ValidateFunction | undefined;
function poolValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
  ajv.addVocabulary([
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-embedded-resource',
  ]);
  ajv.addFormat('int64', true);
  ajv.addFormat('date-time', true);
  compiled = ajv.compile(closeObjects(loadPoolSchema(), ''));
  return compiled;
}

function fieldOf(error: ErrorObject): string {
  const base = error.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return base ? `${base}.${missing}` : missing;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return base ? `${base}.${extra}` : extra;
  }
  return base || '(document)';
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'enum') {
    return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return error.message ?? 'is invalid';
}

function duplicates(values: readonly string[]): string[] {
  return values.filter((v, i) => values.indexOf(v) !== i);
}

/** The rules the CRD states in CEL and list types; the messages are the CRD's own. */
export function crossFieldProblems(name: string, spec: PoolSpec): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (spec.exclusive && spec.capacity !== 1) {
    problems.push({ field: 'spec.capacity', message: 'spec.capacity must be 1 when spec.exclusive is true' });
  }
  if (spec.fallback?.includes(name)) {
    problems.push({ field: 'spec.fallback', message: 'spec.fallback must not name the pool itself' });
  }
  for (const dup of duplicates(spec.merchants ?? [])) {
    problems.push({ field: 'spec.merchants', message: `duplicate value ${JSON.stringify(dup)}` });
  }
  for (const dup of duplicates(spec.fallback ?? [])) {
    problems.push({ field: 'spec.fallback', message: `duplicate value ${JSON.stringify(dup)}` });
  }
  const scaling = spec.autoscaling;
  if (scaling && (scaling.bufferSlots === undefined) === (scaling.bufferPercent === undefined)) {
    problems.push({ field: 'spec.autoscaling', message: 'exactly one of spec.autoscaling.bufferSlots and spec.autoscaling.bufferPercent must be set' });
  }
  if (scaling && scaling.minReplicas > scaling.maxReplicas) {
    problems.push({ field: 'spec.autoscaling.minReplicas', message: 'spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas' });
  }
  (spec.selector?.matchExpressions ?? []).forEach((req, i) => {
    const wantsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (wantsValues !== Boolean(req.values?.length)) {
      problems.push({
        field: `spec.selector.matchExpressions[${i}]`,
        message: 'values must be non-empty for In and NotIn, and absent for Exists and DoesNotExist',
      });
    }
  });
  return problems;
}

/**
 * Checks one VoiceAgentPool document the way the API server would, and
 * returns the pool with the CRD's defaults applied.
 */
export function validatePoolDocument(doc: unknown): PoolValidation {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, problems: [{ field: '(document)', message: 'must be a mapping' }] };
  }
  const copy = structuredClone(doc) as Record<string, unknown>;
  const problems: ValidationProblem[] = [];
  if (copy.apiVersion !== `${POOL_API_GROUP}/${POOL_API_VERSION}`) {
    problems.push({ field: 'apiVersion', message: `must be ${POOL_API_GROUP}/${POOL_API_VERSION}` });
  }
  if (copy.kind !== POOL_KIND) problems.push({ field: 'kind', message: `must be ${POOL_KIND}` });
  const meta = copy.metadata as { name?: unknown } | undefined;
  if (typeof meta?.name !== 'string' || meta.name === '') {
    problems.push({ field: 'metadata.name', message: 'is required' });
  }
  const validate = poolValidator();
  if (!validate(copy)) {
    for (const error of validate.errors ?? []) problems.push({ field: fieldOf(error), message: messageOf(error) });
  }
  if (problems.length) return { ok: false, problems };
  const name = (copy.metadata as { name: string }).name;
  const spec = copy.spec as PoolSpec;
  const crossField = crossFieldProblems(name, spec);
  if (crossField.length) return { ok: false, problems: crossField };
  return { ok: true, pool: { name, spec } };
}

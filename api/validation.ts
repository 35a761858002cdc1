import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import openapi from './openapi.json' with { type: 'json' };
import { badRequest } from './errors.js';

/**
 * Request validation compiled from the OpenAPI document, the single source
 * of the request schemas. Messages name the field and say what is wrong.
 */
const ajv = new Ajv2020({ allErrors: false, strict: true });
// The document's own top-level keywords are not JSON Schema; declared so strict mode accepts them.
ajv.addVocabulary(['openapi', 'info', 'servers', 'components', 'paths', 'security', 'tags', 'externalDocs', 'webhooks']);
ajv.addSchema(openapi, 'openapi.json');

const validators = new Map<string, ValidateFunction>();
function validatorFor(schemaName: string): ValidateFunction {
  let validate = validators.get(schemaName);
  if (!validate) {
    validate = ajv.getSchema(`openapi.json#/components/schemas/${schemaName}`);
    if (!validate) throw new Error(`api/openapi.json has no schema ${schemaName}`);
    validators.set(schemaName, validate);
  }
  return validate;
}

function describe(error: ErrorObject, data: unknown): string {
  const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  switch (error.keyword) {
    case 'required':
      return `${(error.params as { missingProperty: string }).missingProperty} is required`;
    case 'type':
      return field ? `${field} must be a ${(error.params as { type: string }).type}` : 'request body must be a JSON object';
    case 'pattern': {
      const value = field.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], data);
      if (value === '') return `${field} is required`;
      return `${field} must match ${(error.params as { pattern: string }).pattern}`;
    }
    case 'maxLength':
      return `${field} must be at most ${(error.params as { limit: number }).limit} characters`;
    default:
      return `${field || 'request body'} ${error.message ?? 'is invalid'}`;
  }
}

/** Returns the body typed as the schema says, or throws a 400 that says why. */
export function validateBody<T>(schemaName: string, body: unknown): T {
  const validate = validatorFor(schemaName);
  if (!validate(body)) throw badRequest(describe((validate.errors ?? [])[0] as ErrorObject, body));
  return body as T;
}

export { openapi };

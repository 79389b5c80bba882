import type { Principal } from '../auth/principal.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { type FieldError, PreconditionFailedError, ValidationError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import type { CustomFieldDefinition, CustomFieldEntityType, CustomFieldSchemaView } from './schema.ts';

/**
 * Definitions are cached per container for a short while: writes validate custom values without an extra read.
 * A value that fails against the cache is re-checked against a fresh read, so a just-added field works at once.
 */
const CACHE_MS = 30_000;
const cache = new Map<string, { fields: CustomFieldDefinition[]; expires: number }>();

function emptySchema(entityType: CustomFieldEntityType): CustomFieldSchemaView {
  const epoch = new Date(0).toISOString();
  return { entityType, fields: [], version: 0, createdAt: epoch, updatedAt: epoch };
}

export async function getCustomFieldSchema(
  tenantId: string,
  entityType: CustomFieldEntityType,
): Promise<CustomFieldSchemaView> {
  const { data } = await model.entities.customFieldSchema.get({ tenantId, entityType }).go();
  if (!data) return emptySchema(entityType);
  const { tenantId: _tenant, ...view } = data;
  const schema = view as CustomFieldSchemaView;
  cache.set(`${tenantId}#${entityType}`, { fields: schema.fields, expires: Date.now() + CACHE_MS });
  return schema;
}

export async function putCustomFieldSchema(
  principal: Principal,
  entityType: CustomFieldEntityType,
  fields: CustomFieldDefinition[],
  ifMatch: VersionPrecondition | undefined,
): Promise<CustomFieldSchemaView> {
  const current = await getCustomFieldSchema(principal.tenantId, entityType);
  if (ifMatch && !ifMatch.matches(current.version)) {
    throw new PreconditionFailedError('customFieldSchema', entityType);
  }
  const next = await replaceDocument({
    entity: 'customFieldSchema',
    tenantId: principal.tenantId,
    current,
    values: { entityType, fields },
    actorId: principal.userId,
    conflict: () => new PreconditionFailedError('customFieldSchema', entityType),
  });
  cache.set(`${principal.tenantId}#${entityType}`, { fields, expires: Date.now() + CACHE_MS });
  return next;
}

async function definitions(tenantId: string, entityType: CustomFieldEntityType, fresh: boolean) {
  const cached = cache.get(`${tenantId}#${entityType}`);
  if (!fresh && cached && cached.expires > Date.now()) return cached.fields;
  return (await getCustomFieldSchema(tenantId, entityType)).fields;
}

function check(values: Record<string, unknown>, fields: CustomFieldDefinition[]): FieldError[] {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(values)) {
    const field = `body.customFields.${key}`;
    const definition = byKey.get(key);
    if (!definition) {
      errors.push({ field, message: `No custom field "${key}" is declared for this record type.` });
      continue;
    }
    if (value === null) continue;
    const problem = typeProblem(definition, value);
    if (problem) errors.push({ field, message: problem });
  }
  return errors;
}

/**
 * What DynamoDB can store as a number and the document client will write: integers beyond the safe range lose
 * precision (the client refuses them) and magnitudes below 1e-130 are out of DynamoDB's range.
 */
function storableNumber(value: number): boolean {
  const magnitude = Math.abs(value);
  return magnitude <= Number.MAX_SAFE_INTEGER && (magnitude === 0 || magnitude >= 1e-130);
}

function typeProblem(definition: CustomFieldDefinition, value: unknown): string | undefined {
  switch (definition.type) {
    case 'text':
      return typeof value === 'string' ? undefined : 'Expected text.';
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'Expected a number.';
      return storableNumber(value)
        ? undefined
        : `Expected a number within ±${Number.MAX_SAFE_INTEGER}, and 0 or at least 1e-130 from it.`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'Expected true or false.';
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'Expected a date as YYYY-MM-DD.';
    case 'select':
      return typeof value === 'string' && definition.options?.includes(value)
        ? undefined
        : `Expected one of: ${definition.options?.join(', ')}.`;
    case 'multiselect':
      return Array.isArray(value) && value.every((v) => definition.options?.includes(v as string))
        ? undefined
        : `Expected a list drawn from: ${definition.options?.join(', ')}.`;
  }
}

/** Rejects undeclared keys and mistyped values; null clears a value (merge-patch) and is always allowed. */
export async function validateCustomFields(
  tenantId: string,
  entityType: CustomFieldEntityType,
  values: Record<string, unknown> | undefined | null,
): Promise<void> {
  if (!values || Object.keys(values).length === 0) return;
  let errors = check(values, await definitions(tenantId, entityType, false));
  if (errors.length > 0) errors = check(values, await definitions(tenantId, entityType, true));
  if (errors.length > 0) throw new ValidationError('Some custom fields are invalid.', errors);
}

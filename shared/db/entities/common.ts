import type { Attribute } from 'electrodb';

/** Every entity lives in service `crm`; keys keep their case so tenant `Acme` never meets tenant `acme`. */
export const SERVICE = 'crm';
export const KEY_CASING = 'none' as const;

/** Attributes every record carries: tenant, optimistic-concurrency version and audit timestamps. */
export const auditAttributes = {
  tenantId: { type: 'string', required: true, readOnly: true },
  version: { type: 'number', required: true },
  createdAt: { type: 'string', required: true, readOnly: true },
  updatedAt: { type: 'string', required: true },
  createdBy: { type: 'string' },
  updatedBy: { type: 'string' },
} as const satisfies Record<string, Attribute>;

export type GsiName = 'gsi1' | 'gsi2' | 'gsi3' | 'gsi4' | 'gsi5' | 'gsi6' | 'gsi7';

/**
 * GSI keys are derived attributes (built in ../keys.ts, always starting with the tenant) rather than ElectroDB
 * composites: a record is left out of an index by leaving its key attributes unset, which ElectroDB's composite
 * keys cannot express for optional fields. Hidden: they never reach API responses.
 *
 * ElectroDB 3's index `condition` (sparse indexes) was tried and does not fit: with a condition defined, every put
 * must carry every composite of that index, or ElectroDB throws IncompleteIndexCompositesAttributesProvided (checked
 * with 3.9.3) - yet our sparse indexes are sparse because their composite is optional (a contact without owner,
 * stage or company), so it would take sentinel values stored in records. And gsi4 moves a record between two
 * partitions (name, trash), which one key template cannot express.
 */
export function gsiKeyAttributes<const N extends GsiName>(names: readonly N[]) {
  const attributes: Record<string, { type: 'string'; hidden: true }> = {};
  for (const name of names) {
    attributes[`${name}pk`] = { type: 'string', hidden: true };
    attributes[`${name}sk`] = { type: 'string', hidden: true };
  }
  return attributes as Record<`${N}pk` | `${N}sk`, { type: 'string'; hidden: true }>;
}

export function gsiIndexes<const N extends GsiName>(names: readonly N[]) {
  const indexes: Record<string, unknown> = {};
  for (const name of names) {
    indexes[name] = {
      index: name,
      pk: { field: `${name}pk`, composite: [`${name}pk`], template: `\${${name}pk}`, casing: KEY_CASING },
      sk: { field: `${name}sk`, composite: [`${name}sk`], template: `\${${name}sk}`, casing: KEY_CASING },
    };
  }
  return indexes as {
    [K in N]: {
      index: K;
      pk: { field: `${K}pk`; composite: [`${K}pk`]; template: string; casing: typeof KEY_CASING };
      sk: { field: `${K}sk`; composite: [`${K}sk`]; template: string; casing: typeof KEY_CASING };
    };
  };
}

export const addressAttribute = {
  type: 'map',
  properties: {
    street: { type: 'string' },
    city: { type: 'string' },
    region: { type: 'string' },
    postalCode: { type: 'string' },
    country: { type: 'string' },
  },
} as const satisfies Attribute;

import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/** The values a duplicate policy of `block` makes unique within a tenant. */
export const UNIQUE_KEY_KINDS = ['contact.email', 'contact.phone', 'company.domain'] as const;
export type UniqueKeyKind = (typeof UNIQUE_KEY_KINDS)[number];

/**
 * A claim on a normalised value (an email, a phone, a domain) by the one record that owns it: the item's key is the
 * tenant, the kind and the value, so two creates racing for the same email cannot both write it. Claims are written
 * in the same transaction as the record, and only while the tenant's policy is `block` (shared/duplicates/guard.ts).
 * `version` changes on every claim, so taking over a stale claim (its owner no longer holds the value) is a
 * compare-and-swap on what was read.
 */
export const UniqueKeyEntity = new Entity(
  {
    model: { entity: 'uniqueKey', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      kind: { type: UNIQUE_KEY_KINDS, required: true },
      value: { type: 'string', required: true },
      recordId: { type: 'string', required: true },
      version: { type: 'number', required: true },
      claimedAt: { type: 'string', required: true },
    },
    indexes: {
      byValue: {
        pk: { field: 'pk', composite: ['tenantId', 'kind', 'value'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * Index items for multi-valued attributes (a contact's emails, phones and tags; a company's domains and tags),
 * which a GSI cannot index. Each carries a copy of the record so "contacts tagged vip" or "who has this email" is
 * one Query. They are written in the same transaction as the record, so they never drift from it.
 */
export const LOOKUP_KINDS = ['contact.email', 'contact.phone', 'contact.tag', 'company.domain', 'company.tag'] as const;
export type LookupKind = (typeof LOOKUP_KINDS)[number];

export const LookupEntity = new Entity(
  {
    model: { entity: 'lookup', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      kind: { type: LOOKUP_KINDS, required: true },
      value: { type: 'string', required: true },
      targetId: { type: 'string', required: true },
      record: { type: 'any', required: true },
    },
    indexes: {
      byValue: {
        pk: { field: 'pk', composite: ['tenantId', 'kind', 'value'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['targetId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

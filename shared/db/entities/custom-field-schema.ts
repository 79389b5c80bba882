import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/** A tenant's custom field definitions for one entity type (contact, company, lead or ticket), kept as one item: one GetItem. */
export const CustomFieldSchemaEntity = new Entity(
  {
    model: { entity: 'customFieldSchema', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      entityType: { type: ['contact', 'company', 'lead', 'ticket'] as const, required: true, readOnly: true },
      fields: { type: 'any', required: true },
    },
    indexes: {
      byEntityType: {
        pk: { field: 'pk', composite: ['tenantId', 'entityType'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

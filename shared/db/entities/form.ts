import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A web-to-lead form: its fields and how they map to lead fields, allowed origins, honeypot, double opt-in. Listed by
 * name on gsi4 (recordIndex.name / trash of 'form'). The public submission endpoint finds it by its public key
 * `<tenantId>.<formId>`, one GetItem under the tenant's own key.
 */
export const FormEntity = new Entity(
  {
    model: { entity: 'form', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      formId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      fields: { type: 'any', required: true },
      allowedOrigins: { type: 'list', items: { type: 'string' }, required: true },
      honeypotField: { type: 'string' },
      doubleOptIn: { type: 'any' },
      redirectUrl: { type: 'string' },
      ownerId: { type: 'string' },
      tags: { type: 'list', items: { type: 'string' } },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'formId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

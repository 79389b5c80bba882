import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/** A tenant's settings, one item under the tenant's key: read with one GetItem (and cached briefly per container). */
export const TenantSettingsEntity = new Entity(
  {
    model: { entity: 'tenantSettings', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      requireIfMatch: { type: 'boolean', required: true },
    },
    indexes: {
      byTenant: {
        pk: { field: 'pk', composite: ['tenantId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/** A tenant's settings, one item under the tenant's key: read with one GetItem (and cached briefly per container). */
export const TenantSettingsEntity = new Entity(
  {
    model: { entity: 'tenantSettings', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      requireIfMatch: { type: 'boolean', required: true },
      contactDuplicates: { type: ['allow', 'warn', 'block'] as const },
      companyDuplicates: { type: ['allow', 'warn', 'block'] as const },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#settings`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

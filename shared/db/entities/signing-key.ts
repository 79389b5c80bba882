import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's key for signing links that act without a login (marketing unsubscribe and preference links): 256 random
 * bits, created on first use (must be new, so racing creators agree on one). Per tenant, so one tenant's key can
 * never sign another's links, and the public endpoint finds it after reading the tenant from the link.
 */
export const SigningKeyEntity = new Entity(
  {
    model: { entity: 'signingKey', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      /** base64url of 32 random bytes. */
      secret: { type: 'string', required: true, readOnly: true },
      createdAt: { type: 'string', required: true, readOnly: true },
    },
    indexes: {
      byTenant: {
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#signingKey`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

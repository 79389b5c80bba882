import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * An address the tenant must never mail again (marketing): a hard bounce, a complaint, or added by hand. Keyed by
 * the lower-cased address, so the campaign sender checks a page of recipients with one BatchGetItem.
 * gsi4: the tenant's suppression list, newest first.
 */
export const SuppressionEntity = new Entity(
  {
    model: { entity: 'suppression', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      /** Lower-cased. */
      email: { type: 'string', required: true, readOnly: true },
      /** hard_bounce | complaint | manual */
      reason: { type: 'string', required: true },
      /** What put it there: a campaign id, an SES message id, a user id. */
      source: { type: 'string' },
      detail: { type: 'string' },
      suppressedAt: { type: 'string', required: true },
      createdBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byEmail: {
        pk: { field: 'pk', composite: ['tenantId', 'email'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

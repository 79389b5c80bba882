import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * How many requests of one tenant's quota were handed out in one fixed window (see shared/quota). Warm containers
 * lease blocks of it with one conditional UpdateItem (ADD) each. A window's item is addressed only while the window
 * lasts, so an expired item DynamoDB has not yet deleted is never read again; `expiresAt` (TTL) only cleans up.
 */
export const QuotaWindowEntity = new Entity(
  {
    model: { entity: 'quotaWindow', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      /** Window start, epoch seconds. */
      windowStart: { type: 'number', required: true, readOnly: true },
      /** Requests leased so far in this window, across all containers. */
      leased: { type: 'number', required: true },
      expiresAt: { type: 'number', required: true, field: 'ttl' },
    },
    indexes: {
      byWindow: {
        pk: { field: 'pk', composite: ['tenantId', 'windowStart'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

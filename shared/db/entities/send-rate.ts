import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A campaign sender that shares the deployment's SES sending rate right now: one item per sending invocation in one
 * partition (`pool`, 'ses'), because the rate is the AWS account's quota, not a tenant's (a global key: see
 * shared/db/tenant-keys.ts). A sender renews `until` while it sends and takes the rate ÷ the senders whose `until` is
 * still ahead (shared/campaigns/rate-share.ts); it deletes its item when it stops, and a crashed sender's item simply
 * lapses (`expiresAt`, the TTL, removes it later).
 */
export const SendRateShareEntity = new Entity(
  {
    model: { entity: 'sendRateShare', version: '1', service: SERVICE },
    attributes: {
      pool: { type: 'string', required: true, readOnly: true },
      senderId: { type: 'string', required: true, readOnly: true },
      /** Until when (ms since the epoch) it counts as sending, unless renewed. */
      until: { type: 'number', required: true },
      /** Whose send it is, for an operator looking at the pool. */
      tenantId: { type: 'string' },
      campaignId: { type: 'string' },
      expiresAt: { type: 'number', required: true, field: 'ttl' },
    },
    indexes: {
      bySender: {
        pk: { field: 'pk', composite: ['pool'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['senderId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

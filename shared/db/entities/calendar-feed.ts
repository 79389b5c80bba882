import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A user's iCalendar feed secret: only the SHA-256 of the token is kept, so a leaked table cannot subscribe. One
 * item per user (rotating overwrites it, revoking deletes it); the token names tenant and user, so the public feed
 * handler finds this item with one GetItem under the tenant's key.
 */
export const CalendarFeedEntity = new Entity(
  {
    model: { entity: 'calendarFeed', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      userId: { type: 'string', required: true, readOnly: true },
      tokenHash: { type: 'string', required: true },
      createdAt: { type: 'string', required: true },
    },
    indexes: {
      byUser: {
        pk: { field: 'pk', composite: ['tenantId', 'userId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * The match keys the duplicate-candidates consumer last indexed for a record: what it must un-index when the record
 * changes, is deleted or merged (the record itself no longer says what it was).
 */
export const MatchKeySetEntity = new Entity(
  {
    model: { entity: 'matchKeySet', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      entity: { type: ['contact', 'company'] as const, required: true },
      recordId: { type: 'string', required: true },
      keys: { type: 'list', items: { type: 'string' }, required: true },
      updatedAt: { type: 'string', required: true },
    },
    indexes: {
      byRecord: {
        pk: { field: 'pk', composite: ['tenantId', 'entity', 'recordId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

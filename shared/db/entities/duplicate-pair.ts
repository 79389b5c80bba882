import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A candidate duplicate: two records of one kind sharing match keys. Stored once per side (pk: the record, sk: the
 * other), so "the pairs of a record" is one Query when it changes; the side whose record id sorts first also carries
 * the list keys on gsi7 (`<t>#duplicate#<entity>`, by pair id), unless the pair was dismissed.
 */
export const DuplicatePairEntity = new Entity(
  {
    model: { entity: 'duplicatePair', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      entity: { type: ['contact', 'company'] as const, required: true },
      recordId: { type: 'string', required: true },
      otherId: { type: 'string', required: true },
      pairId: { type: 'string', required: true },
      matched: { type: 'list', items: { type: 'string' }, required: true },
      detectedAt: { type: 'string', required: true },
      updatedAt: { type: 'string', required: true },
      dismissedAt: { type: 'string' },
      dismissedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi7']),
    },
    indexes: {
      byRecord: {
        pk: { field: 'pk', composite: ['tenantId', 'entity', 'recordId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['otherId'], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi7']),
    },
  },
  {},
);

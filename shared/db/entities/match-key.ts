import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * Who holds a match key (`email:<address>`, `phone:<e164>`, `domain:<host>`, `name:<fingerprint>`): one item per
 * record and key, so the holders of a key are one Query. Kept by the duplicate-candidates consumer
 * (shared/duplicates/candidates.ts), never on the request path.
 */
export const MatchKeyEntity = new Entity(
  {
    model: { entity: 'matchKey', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      entity: { type: ['contact', 'company'] as const, required: true },
      key: { type: 'string', required: true },
      recordId: { type: 'string', required: true },
    },
    indexes: {
      byKey: {
        pk: { field: 'pk', composite: ['tenantId', 'entity', 'key'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['recordId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * Submissions of one form from one source address in one fixed window: one atomic ADD per submission, refused past
 * the limit. Only addressed while its window lasts; `expiresAt` (TTL) cleans up.
 */
export const FormRateWindowEntity = new Entity(
  {
    model: { entity: 'formRateWindow', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      formId: { type: 'string', required: true, readOnly: true },
      /** sha256 of the source address (no raw addresses stored). */
      source: { type: 'string', required: true, readOnly: true },
      windowStart: { type: 'number', required: true, readOnly: true },
      count: { type: 'number', required: true },
      expiresAt: { type: 'number', required: true, field: 'ttl' },
    },
    indexes: {
      byWindow: {
        pk: { field: 'pk', composite: ['tenantId', 'formId', 'source', 'windowStart'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

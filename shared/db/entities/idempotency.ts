import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * The first response to a POST with an Idempotency-Key. Written in the same transaction as the record it created,
 * so a retry either finds it or the create never happened. `expiresAt` is the TTL attribute; readers check it too,
 * because DynamoDB (and DynamoDB Local) delete expired items late or never.
 */
export const IdempotencyEntity = new Entity(
  {
    model: { entity: 'idempotency', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      key: { type: 'string', required: true },
      requestHash: { type: 'string', required: true },
      statusCode: { type: 'number', required: true },
      response: { type: 'any', required: true },
      createdAt: { type: 'string', required: true },
      expiresAt: { type: 'number', required: true, field: 'ttl' },
    },
    indexes: {
      byKey: {
        pk: { field: 'pk', composite: ['tenantId', 'key'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

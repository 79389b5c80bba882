import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * A counter assignment updates atomically with UpdateItem ADD: a round-robin rule's rotation (`rotation#<ruleId>`:
 * how many owners it has handed out) or a user's open load (`load#<userId>`: open records assigned to them). One item
 * each, so concurrent choosers serialize on DynamoDB's per-item atomicity rather than on a read-modify-write.
 * `applied#<entity>#<id>#<version>` items mark a change event the load consumer has applied (kept 7 days).
 */
export const AssignmentCounterEntity = new Entity(
  {
    model: { entity: 'assignmentCounter', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      counterId: { type: 'string', required: true, readOnly: true },
      value: { type: 'number' },
      updatedAt: { type: 'string' },
      /** Only on `applied#...` markers (the load consumer's exactly-once record): DynamoDB TTL, epoch seconds. */
      ttl: { type: 'number' },
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'counterId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

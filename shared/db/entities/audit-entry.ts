import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * One change of a record, written by the audit-trail consumer from the change event. Keyed by the record's version,
 * so a redelivered event rewrites the same item (EventBridge delivers at least once).
 */
export const AuditEntryEntity = new Entity(
  {
    model: { entity: 'auditEntry', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      entity: { type: 'string', required: true },
      entityId: { type: 'string', required: true },
      /** Zero-padded version, so the sort key orders numerically. */
      seq: { type: 'string', required: true },
      version: { type: 'number', required: true },
      action: { type: 'string', required: true },
      actorId: { type: 'string' },
      occurredAt: { type: 'string', required: true },
      changes: { type: 'any', required: true },
    },
    indexes: {
      byRecord: {
        pk: { field: 'pk', composite: ['tenantId', 'entity', 'entityId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['seq'], casing: KEY_CASING },
      },
    },
  },
  {},
);

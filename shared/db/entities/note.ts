import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A note on a contact or company. It sits on the shared timeline index (gsi6, keys from ../keys.ts) whose sort key is
 * "<occurredAt>#<entity>#<id>", so notes and later activities, deals, tickets and emails interleave by time in one
 * Query of the subject's timeline.
 */
export const NoteEntity = new Entity(
  {
    model: { entity: 'note', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      noteId: { type: 'string', required: true, readOnly: true },
      subjectType: { type: 'string', required: true, readOnly: true },
      subjectId: { type: 'string', required: true, readOnly: true },
      body: { type: 'string', required: true },
      pinned: { type: 'boolean' },
      occurredAt: { type: 'string', required: true },
      authorId: { type: 'string', required: true, readOnly: true },
      ...gsiKeyAttributes(['gsi6']),
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'noteId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi6']),
    },
  },
  {},
);

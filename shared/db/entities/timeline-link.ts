import { Entity } from 'electrodb';
import { gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * An entry of a record's timeline for something linked to several records (a deal to its contacts and company, a
 * meeting to its attendees' contacts, a deal and a lead): the item itself can sit on one timeline partition only, so
 * each linked subject gets a link item on gsi6 carrying a bounded summary. All links of one item share its partition
 * (`pk` by entity and id), so they are rewritten or removed together, in the item's own transaction
 * (shared/timeline/links.ts). A subject's timeline is still one Query.
 */
export const TimelineLinkEntity = new Entity(
  {
    model: { entity: 'timelineLink', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      /** What is linked: its entity name (deal, activity...) and id. */
      entity: { type: 'string', required: true, readOnly: true },
      entityId: { type: 'string', required: true, readOnly: true },
      /** Whose timeline it shows on. */
      subjectType: { type: 'string', required: true, readOnly: true },
      subjectId: { type: 'string', required: true, readOnly: true },
      occurredAt: { type: 'string', required: true },
      /** A small projection of the linked item (what the timeline shows as the entry's data). */
      summary: { type: 'any', required: true },
      ...gsiKeyAttributes(['gsi6']),
    },
    indexes: {
      byItem: {
        pk: { field: 'pk', composite: ['tenantId', 'entity', 'entityId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['subjectType', 'subjectId'], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi6']),
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * An audience: a dynamic segment (a filter over contacts, its membership kept by a consumer of contact and engagement
 * events) or a static list (members added and removed by hand or in bulk). `memberCount` is kept with every member
 * write (an ADD in the same transaction), never counted. gsi4: the tenant's segments by name (and trash).
 */
export const SegmentEntity = new Entity(
  {
    model: { entity: 'segment', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      segmentId: { type: 'string', required: true, readOnly: true },
      /** dynamic | static */
      kind: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      /** Folded name: the gsi4 sort key (shared/db/keys.ts sortableName). */
      sortName: { type: 'string' },
      description: { type: 'string' },
      /** A dynamic segment's filter expression (shared/segments/schema.ts); absent on a static list. */
      filter: { type: 'any' },
      /** Bumped when the filter changes: members evaluated under an older one are re-evaluated by the backfill. */
      filterVersion: { type: 'number' },
      /**
       * Bumped with every full evaluation of the audience: a filter change, a restore, an hourly sweep of a filter
       * whose time window lets contacts enter. Members carry the evaluation they were last found matching under.
       */
      evaluation: { type: 'number' },
      memberCount: { type: 'number' },
      /** The backfill job of the current filter: { status, processed, matched, startedAt, finishedAt?, error? }. */
      backfill: { type: 'any' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'segmentId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

/**
 * One contact in one segment or list, in the segment's own partition, sorted by contact id: reading an audience is
 * a paginated Query of that partition (what the campaign sender pages through), and "is X a member" one GetItem.
 */
export const SegmentMemberEntity = new Entity(
  {
    model: { entity: 'segmentMember', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      segmentId: { type: 'string', required: true, readOnly: true },
      contactId: { type: 'string', required: true, readOnly: true },
      addedAt: { type: 'string', required: true },
      /** filter | manual | import | backfill */
      source: { type: 'string', required: true },
      /** The filter version the contact was last found to match under (dynamic segments). */
      filterVersion: { type: 'number' },
      /** The segment's evaluation the contact was last found to match under (stale ones are re-checked). */
      evaluation: { type: 'number' },
    },
    indexes: {
      byMember: {
        pk: { field: 'pk', composite: ['tenantId', 'segmentId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['contactId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A team and its members, in one item: assignment (and ticket routing later) reads a team's members, their
 * availability and capacity with one GetItem. Teams are small (at most a few hundred members).
 */
export const TeamEntity = new Entity(
  {
    model: { entity: 'team', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      teamId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      description: { type: 'string' },
      /** The lead (escalations and SLA notifications go to them). */
      leadUserId: { type: 'string' },
      /** [{ userId, availability: 'available' | 'away', capacity?: number (open items at most) }] */
      members: { type: 'any', required: true },
      sortName: { type: 'string', required: true },
      ...gsiKeyAttributes(['gsi4', 'gsi5']),
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'teamId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4', 'gsi5']),
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { addressAttribute, auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A lead: a person (and their company) not yet qualified into a contact. GSIs (keys from ../keys.ts, leadKeys):
 * gsi1 by owner (recordIndex.owner), gsi2 by status, gsi3 by source, gsi4 by name (and the trash), gsi5 by updatedAt
 * (delta sync, deletions included). Emails and tags are indexed by `lookup` items. Its timeline is gsi6
 * (`timelineIndex.pk(t, 'lead', id)`): form submissions sit there.
 */
export const LeadEntity = new Entity(
  {
    model: { entity: 'lead', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      leadId: { type: 'string', required: true, readOnly: true },
      firstName: { type: 'string' },
      lastName: { type: 'string' },
      sortName: { type: 'string', required: true },
      emails: { type: 'list', items: { type: 'string' } },
      phones: { type: 'list', items: { type: 'string' } },
      title: { type: 'string' },
      company: {
        type: 'map',
        properties: {
          name: { type: 'string' },
          domain: { type: 'string' },
          website: { type: 'string' },
          size: { type: 'string' },
          industry: { type: 'string' },
          address: addressAttribute,
        },
      },
      source: { type: 'string', required: true },
      utm: { type: 'any' },
      status: { type: 'string', required: true },
      disqualifiedReason: { type: 'string' },
      ownerId: { type: 'string' },
      /** The assignment rule that chose the owner at creation (shared/assignment); absent when a person chose. */
      assignedByRule: { type: 'string' },
      tags: { type: 'list', items: { type: 'string' } },
      customFields: { type: 'any' },
      /** Double opt-in and other consent, with when and how it was given. */
      consent: { type: 'any' },
      /** Set by the scoring consumer only (shared/scoring): never on read, never by a client. */
      score: { type: 'number' },
      scoreReasons: { type: 'any' },
      scoredAt: { type: 'string' },
      engagements: { type: 'any' },
      convertedContactId: { type: 'string' },
      convertedCompanyId: { type: 'string' },
      convertedDealId: { type: 'string' },
      convertedAt: { type: 'string' },
      convertedBy: { type: 'string' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'leadId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5']),
    },
  },
  {},
);

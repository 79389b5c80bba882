import { Entity } from 'electrodb';
import { addressAttribute, auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A person. GSIs (keys built in ../keys.ts): gsi1 by owner, gsi2 by lifecycle stage, gsi3 by company, gsi4 by name
 * (the default list and prefix search), all sparse (live contacts only) and sorted by name; gsi7 by geohash cell (live contacts with a location); gsi5 by updatedAt, which
 * keeps soft-deleted contacts so delta sync sees deletions. Emails, phones and tags are indexed by `lookup` items.
 */
export const ContactEntity = new Entity(
  {
    model: { entity: 'contact', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      contactId: { type: 'string', required: true, readOnly: true },
      firstName: { type: 'string' },
      lastName: { type: 'string' },
      /** Lower-cased, accent-folded "first last": the sort and prefix-search key. */
      sortName: { type: 'string', required: true },
      emails: { type: 'list', items: { type: 'string' } },
      phones: { type: 'list', items: { type: 'string' } },
      jobTitle: { type: 'string' },
      companyId: { type: 'string' },
      ownerId: { type: 'string' },
      /** The assignment rule that chose the owner at creation (shared/assignment); absent when a person chose. */
      assignedByRule: { type: 'string' },
      lifecycleStage: { type: 'string' },
      tags: { type: 'list', items: { type: 'string' } },
      address: addressAttribute,
      location: { type: 'map', properties: { lat: { type: 'number' }, lon: { type: 'number' } } },
      consent: {
        type: 'map',
        properties: {
          email: { type: 'string' },
          sms: { type: 'string' },
          phone: { type: 'string' },
          updatedAt: { type: 'string' },
          /** Where the last change came from (api, one_click, preference_page) and the campaign whose link it was. */
          source: { type: 'string' },
          campaignId: { type: 'string' },
        },
      },
      /** Per subscription category id: { status: subscribed | unsubscribed, updatedAt, source, campaignId? }. */
      subscriptions: { type: 'any' },
      customFields: { type: 'any' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      /** A merged record is a redirect to the record it was merged into (shared/merge). */
      mergedInto: { type: 'string' },
      mergedAt: { type: 'string' },
      mergedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'contactId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
  },
  {},
);

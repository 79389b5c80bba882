import { Entity } from 'electrodb';
import { addressAttribute, auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/** An organisation. GSIs as for contacts: gsi1 by owner, gsi4 by name, gsi5 by updatedAt, gsi7 by geohash cell; domains and tags via lookups. */
export const CompanyEntity = new Entity(
  {
    model: { entity: 'company', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      companyId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      sortName: { type: 'string', required: true },
      domains: { type: 'list', items: { type: 'string' } },
      industry: { type: 'string' },
      size: { type: 'string' },
      employeeCount: { type: 'number' },
      ownerId: { type: 'string' },
      tags: { type: 'list', items: { type: 'string' } },
      address: addressAttribute,
      location: { type: 'map', properties: { lat: { type: 'number' }, lon: { type: 'number' } } },
      customFields: { type: 'any' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      /** A merged record is a redirect to the record it was merged into (shared/merge). */
      mergedInto: { type: 'string' },
      mergedAt: { type: 'string' },
      mergedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi1', 'gsi4', 'gsi5', 'gsi7']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'companyId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi4', 'gsi5', 'gsi7']),
    },
  },
  {},
);

import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A marketing email template: subject, HTML and text parts with merge fields (shared/templates), validated on every
 * write. Bounded (the parts' caps keep it well inside DynamoDB's 400 KB). gsi4: the tenant's templates by name.
 */
export const EmailTemplateEntity = new Entity(
  {
    model: { entity: 'emailTemplate', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      templateId: { type: 'string', required: true, readOnly: true },
      name: { type: 'string', required: true },
      /** Folded name: the gsi4 sort key and name-prefix search. */
      sortName: { type: 'string', required: true },
      subject: { type: 'string', required: true },
      html: { type: 'string' },
      text: { type: 'string' },
      /** The merge fields the parts use (validated), e.g. ["contact.firstName", "company.name"]. */
      fields: { type: 'list', items: { type: 'string' } },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'templateId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

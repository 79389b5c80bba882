import { Entity } from 'electrodb';
import { auditAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's subscription categories (newsletter, product updates, events...), as one bounded item: every marketing
 * mail names one, the preference page lists them, and a contact's choice per category is on the contact
 * (`subscriptions`). Replaced as a whole under If-Match.
 */
export const SubscriptionCategoriesEntity = new Entity(
  {
    model: { entity: 'subscriptionCategories', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      /** [{ id, name, description? }] (shared/subscriptions/schema.ts) */
      categories: { type: 'any', required: true },
    },
    indexes: {
      byTenant: {
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#subscriptionCategories`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

import { routes } from '../../shared/api/routes.ts';
import { getContact } from '../../shared/contacts/service.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as subscriptions from '../../shared/subscriptions/service.ts';

export const handler = httpApi(
  routes,
  'subscriptions',
  {
    getSubscriptionCategories: async ({ principal }) => {
      const view = await subscriptions.getSubscriptionCategories(principal.tenantId);
      return { status: 200, body: view, version: view.version };
    },
    putSubscriptionCategories: async ({ principal, body, ifMatch }) => {
      const view = await subscriptions.putSubscriptionCategories(principal, body, ifMatch);
      return { status: 200, body: view, version: view.version };
    },
    getPreferenceLinks: async ({ principal, params, query }) => {
      // The contact must be live (404; a merged one answers 301 to the contact it became).
      await getContact(principal, params.contactId);
      return {
        status: 200,
        body: await subscriptions.preferenceLinks(principal.tenantId, params.contactId, query.categoryId),
      };
    },
  },
  { guards: tenantGuards },
);

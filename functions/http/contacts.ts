import { routes } from '../../shared/api/routes.ts';
import { history } from '../../shared/audit/service.ts';
import * as contacts from '../../shared/contacts/service.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import { timeline } from '../../shared/timeline/service.ts';

export const handler = httpApi(
  routes,
  'contacts',
  {
    createContact: async ({ principal, body, idempotency }) => {
      const contact = await contacts.createContact(principal, body, idempotency);
      return {
        status: 201,
        body: contact,
        version: contact.version,
        headers: { location: `/v1/contacts/${contact.id}` },
      };
    },
    listContacts: async ({ principal, query }) => ({
      status: 200,
      body: await contacts.listContacts(principal, query),
    }),
    getContact: async ({ principal, params }) => {
      const contact = await contacts.getContact(principal, params.contactId);
      return { status: 200, body: contact, version: contact.version };
    },
    patchContact: async ({ principal, params, body, ifMatch }) => {
      const contact = await contacts.patchContact(principal, params.contactId, body, ifMatch);
      return { status: 200, body: contact, version: contact.version };
    },
    deleteContact: async ({ principal, params, ifMatch }) => {
      await contacts.deleteContact(principal, params.contactId, ifMatch);
      return { status: 204 };
    },
    restoreContact: async ({ principal, params, ifMatch }) => {
      const contact = await contacts.restoreContact(principal, params.contactId, ifMatch);
      return { status: 200, body: contact, version: contact.version };
    },
    contactHistory: async ({ principal, params, query }) => ({
      status: 200,
      body: await history(principal, 'contact', params.contactId, query),
    }),
    contactTimeline: async ({ principal, params, query }) => ({
      status: 200,
      body: await timeline(principal, 'contact', params.contactId, query),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);

import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as mailboxes from '../../shared/mailboxes/service.ts';

export const handler = httpApi(
  routes,
  'mailboxes',
  {
    createMailbox: async ({ principal, body, idempotency }) => {
      const mailbox = await mailboxes.createMailbox(principal, body, idempotency);
      return {
        status: 201,
        body: mailbox,
        version: mailbox.version,
        headers: { location: `/v1/mailboxes/${mailbox.id}` },
      };
    },
    listMailboxes: async ({ principal, query }) => ({
      status: 200,
      body: await mailboxes.listMailboxes(principal, query),
    }),
    getMailbox: async ({ principal, params }) => {
      const mailbox = await mailboxes.getMailbox(principal, params.mailboxId);
      return { status: 200, body: mailbox, version: mailbox.version };
    },
    patchMailbox: async ({ principal, params, body, ifMatch }) => {
      const mailbox = await mailboxes.patchMailbox(principal, params.mailboxId, body, ifMatch);
      return { status: 200, body: mailbox, version: mailbox.version };
    },
    deleteMailbox: async ({ principal, params, ifMatch }) => {
      await mailboxes.deleteMailbox(principal, params.mailboxId, ifMatch);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);

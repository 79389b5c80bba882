import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import { Mailbox, MailboxCreate, MailboxIdParams, MailboxListQuery, MailboxPatch } from './schema.ts';

export const mailboxesRoutes = defineRoutes([
  {
    operationId: 'createMailbox',
    method: 'POST',
    path: '/v1/mailboxes',
    group: 'mailboxes',
    permission: 'mailboxes:manage',
    tag: 'Mailboxes',
    summary: 'Declare a support mailbox',
    description:
      'Mail whose SES envelope recipient is this address (or address+tag) becomes tickets of this organisation. ' +
      'An address belongs to one mailbox in the whole service: 409 `mailbox.address_taken` if any mailbox has it. ' +
      'When the service receives mail only for some domains, only addresses there can be declared (400).',
    body: MailboxCreate,
    response: { status: 201, schema: Mailbox, description: 'The new mailbox.' },
    idempotent: true,
  },
  {
    operationId: 'listMailboxes',
    method: 'GET',
    path: '/v1/mailboxes',
    group: 'mailboxes',
    permission: 'mailboxes:read',
    tag: 'Mailboxes',
    summary: 'List mailboxes by address',
    query: MailboxListQuery,
    response: { status: 200, schema: pageOf(Mailbox), description: 'A page of mailboxes.' },
  },
  {
    operationId: 'getMailbox',
    method: 'GET',
    path: '/v1/mailboxes/{mailboxId}',
    group: 'mailboxes',
    permission: 'mailboxes:read',
    tag: 'Mailboxes',
    summary: 'Get a mailbox',
    params: MailboxIdParams,
    response: { status: 200, schema: Mailbox, description: 'The mailbox, with its version as ETag.' },
  },
  {
    operationId: 'patchMailbox',
    method: 'PATCH',
    path: '/v1/mailboxes/{mailboxId}',
    group: 'mailboxes',
    permission: 'mailboxes:manage',
    tag: 'Mailboxes',
    summary: 'Change a mailbox',
    description:
      'A new address is claimed and the old one released in the same write (409 `mailbox.address_taken` if the new ' +
      'one is taken; nothing changes then). `verdictPolicy` merges into the stored one.',
    params: MailboxIdParams,
    body: MailboxPatch,
    response: { status: 200, schema: Mailbox, description: 'The updated mailbox.' },
    conditional: true,
  },
  {
    operationId: 'deleteMailbox',
    method: 'DELETE',
    path: '/v1/mailboxes/{mailboxId}',
    group: 'mailboxes',
    permission: 'mailboxes:manage',
    tag: 'Mailboxes',
    summary: 'Delete a mailbox and release its address',
    description: 'Mail to the address is not accepted any more (and the address may be declared again).',
    params: MailboxIdParams,
    response: { status: 204, description: 'Done; nothing to return.' },
    conditional: true,
  },
]);

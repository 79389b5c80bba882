import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import {
  Ticket,
  TicketAttachment,
  TicketAttachmentCreate,
  TicketAttachmentParams,
  TicketAttachmentUpload,
  TicketCreate,
  TicketIdParams,
  TicketListQuery,
  TicketMessage,
  TicketMessageCreate,
  TicketMessageListQuery,
  TicketMessagePosted,
  TicketNumberParams,
  TicketPatch,
  TicketReplyCreate,
} from './schema.ts';

/** Support tickets and their threads. */
export const ticketsRoutes = defineRoutes([
  {
    operationId: 'createTicket',
    method: 'POST',
    path: '/v1/tickets',
    group: 'tickets',
    permission: 'tickets:write',
    tag: 'Tickets',
    summary: 'Open a ticket',
    description:
      "Gets the tenant's next number (T-1001, T-1002...) in the same transaction as the ticket: a refused create " +
      'uses no number. The requester (a contact), company, assignee (a user) and team must exist. The ticket shows ' +
      "on the requester's and the company's timelines.",
    body: TicketCreate,
    response: { status: 201, schema: Ticket, description: 'The new ticket.' },
    idempotent: true,
  },
  {
    operationId: 'listTickets',
    method: 'GET',
    path: '/v1/tickets',
    group: 'tickets',
    permission: 'tickets:read',
    tag: 'Tickets',
    summary: 'Ticket views: by status, assignee, team or priority',
    description:
      'One filter at a time, each one Query, most recently updated first: status (every live ticket with it); ' +
      'assigneeId, teamId, priority (the unresolved ones: new, open, pending, on hold); inTrash; updatedSince ' +
      '(delta sync, oldest first, deletions included). Without a filter: every live ticket.',
    query: TicketListQuery,
    response: { status: 200, schema: pageOf(Ticket), description: 'A page of tickets.' },
  },
  {
    operationId: 'getTicketByNumber',
    method: 'GET',
    path: '/v1/tickets/by-number/{number}',
    group: 'tickets',
    permission: 'tickets:read',
    tag: 'Tickets',
    summary: 'Get a ticket by its number (T-1042)',
    params: TicketNumberParams,
    response: { status: 200, schema: Ticket, description: 'The ticket, with its version as ETag.' },
  },
  {
    operationId: 'getTicket',
    method: 'GET',
    path: '/v1/tickets/{ticketId}',
    group: 'tickets',
    permission: 'tickets:read',
    tag: 'Tickets',
    summary: 'Get a ticket',
    params: TicketIdParams,
    response: { status: 200, schema: Ticket, description: 'The ticket, with its version as ETag.' },
  },
  {
    operationId: 'patchTicket',
    method: 'PATCH',
    path: '/v1/tickets/{ticketId}',
    group: 'tickets',
    permission: 'tickets:write',
    tag: 'Tickets',
    summary: 'Update a ticket (status, priority, assignee, team, fields)',
    description:
      'Solving sets solvedAt (a reopen clears it); closing sets closedAt and is final (409 ticket.closed after).',
    params: TicketIdParams,
    body: TicketPatch,
    response: { status: 200, schema: Ticket, description: 'The updated ticket.' },
    conditional: true,
  },
  {
    operationId: 'deleteTicket',
    method: 'DELETE',
    path: '/v1/tickets/{ticketId}',
    group: 'tickets',
    permission: 'tickets:delete',
    tag: 'Tickets',
    summary: 'Delete a ticket',
    description: 'It leaves every view and timeline and goes to the trash; its number is never given out again.',
    params: TicketIdParams,
    response: { status: 204, description: 'Deleted.' },
    conditional: true,
  },
  {
    operationId: 'postTicketMessage',
    method: 'POST',
    path: '/v1/tickets/{ticketId}/messages',
    group: 'tickets',
    permission: 'tickets:write',
    tag: 'Tickets',
    summary: 'Add a public reply or an internal note to the thread',
    description:
      "An agent's first public reply opens a new ticket and sets firstRespondedAt; a message from the requester " +
      '(authorType contact) reopens a pending or solved one; `status` sets the status with the message. A closed ' +
      'ticket takes no messages (409 ticket.closed).',
    params: TicketIdParams,
    body: TicketMessageCreate,
    response: { status: 201, schema: TicketMessagePosted, description: 'The message and the ticket after it.' },
    idempotent: true,
  },
  {
    operationId: 'listTicketMessages',
    method: 'GET',
    path: '/v1/tickets/{ticketId}/messages',
    group: 'tickets',
    permission: 'tickets:read',
    tag: 'Tickets',
    summary: "A ticket's thread, oldest first",
    params: TicketIdParams,
    query: TicketMessageListQuery,
    response: { status: 200, schema: pageOf(TicketMessage), description: 'A page of messages.' },
  },
  {
    operationId: 'createTicketAttachment',
    method: 'POST',
    path: '/v1/tickets/{ticketId}/attachments',
    group: 'tickets',
    permission: 'tickets:write',
    tag: 'Tickets',
    summary: 'Declare a file and get its upload URL',
    description:
      'Returns a pre-signed PUT (15 minutes) to the private attachments bucket; its Content-Type and Content-Length ' +
      'are signed, so the upload must be the declared type and size. Then reference the id from a message.',
    params: TicketIdParams,
    body: TicketAttachmentCreate,
    response: { status: 201, schema: TicketAttachmentUpload, description: 'The attachment and where to upload it.' },
    idempotent: true,
  },
  {
    operationId: 'getTicketAttachment',
    method: 'GET',
    path: '/v1/tickets/{ticketId}/attachments/{attachmentId}',
    group: 'tickets',
    permission: 'tickets:read',
    tag: 'Tickets',
    summary: 'A file of a ticket, with a download link that expires',
    description: 'The link is a pre-signed GET valid for 15 minutes; the file downloads under its name.',
    params: TicketAttachmentParams,
    response: { status: 200, schema: TicketAttachment, description: 'The file and its download link.' },
  },
  {
    operationId: 'postTicketReply',
    method: 'POST',
    path: '/v1/tickets/{ticketId}/replies',
    group: 'tickets',
    permission: 'tickets:write',
    tag: 'Tickets',
    summary: 'Reply to the customer by email',
    description:
      "Stores a public reply with delivery `queued`, then it goes out through SES from the ticket's mailbox: our own " +
      "Message-ID, In-Reply-To the customer's latest mail, the thread's References, and a Reply-To of the mailbox's " +
      '`+T-<number>` address, so the answer comes back to this ticket. The first public reply sets firstRespondedAt. ' +
      'A ticket that did not come in by mail has no mailbox (409 ticket.no_mailbox).',
    params: TicketIdParams,
    body: TicketReplyCreate,
    response: { status: 201, schema: TicketMessagePosted, description: 'The queued reply and the ticket after it.' },
    idempotent: true,
  },
]);

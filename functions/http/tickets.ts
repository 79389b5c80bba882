import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as attachments from '../../shared/tickets/attachments.ts';
import * as replies from '../../shared/tickets/replies.ts';
import * as tickets from '../../shared/tickets/service.ts';

export const handler = httpApi(
  routes,
  'tickets',
  {
    createTicket: async ({ principal, body, idempotency }) => {
      const ticket = await tickets.createTicket(principal, body, idempotency);
      return { status: 201, body: ticket, version: ticket.version, headers: { location: `/v1/tickets/${ticket.id}` } };
    },
    listTickets: async ({ principal, query }) => {
      const { limit, cursor, ...filters } = query;
      return { status: 200, body: await tickets.listTickets(principal, filters, { limit, cursor }) };
    },
    getTicketByNumber: async ({ principal, params }) => {
      const ticket = await tickets.getTicketByNumber(principal, params.number);
      return { status: 200, body: ticket, version: ticket.version };
    },
    getTicket: async ({ principal, params }) => {
      const ticket = await tickets.getTicket(principal, params.ticketId);
      return { status: 200, body: ticket, version: ticket.version };
    },
    patchTicket: async ({ principal, params, body, ifMatch }) => {
      const ticket = await tickets.patchTicket(principal, params.ticketId, body, ifMatch);
      return { status: 200, body: ticket, version: ticket.version };
    },
    deleteTicket: async ({ principal, params, ifMatch }) => {
      await tickets.deleteTicket(principal, params.ticketId, ifMatch);
      return { status: 204 };
    },
    postTicketMessage: async ({ principal, params, body, idempotency }) => ({
      status: 201,
      body: await tickets.postMessage(principal, params.ticketId, body, idempotency),
    }),
    listTicketMessages: async ({ principal, params, query }) => ({
      status: 200,
      body: await tickets.listMessages(principal, params.ticketId, query),
    }),
    createTicketAttachment: async ({ principal, params, body, idempotency }) => {
      return {
        status: 201,
        body: await attachments.declareAttachment(
          principal.tenantId,
          params.ticketId,
          principal.userId,
          body,
          idempotency,
        ),
      };
    },
    getTicketAttachment: async ({ principal, params }) => ({
      status: 200,
      body: await attachments.attachmentLink(principal.tenantId, params.ticketId, params.attachmentId),
    }),
    postTicketReply: async ({ principal, params, body, idempotency }) => ({
      status: 201,
      body: await replies.postReply(principal, params.ticketId, body, idempotency),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);

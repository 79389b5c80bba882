import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

export const TICKET_STATUSES = ['new', 'open', 'pending', 'on_hold', 'solved', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const TICKET_CHANNELS = ['email', 'web', 'api', 'phone'] as const;

/**
 * A support ticket. Its thread is `ticketMessage` items in its own partition (the ticket item stays bounded); its
 * number (`T-1001`...) comes from the tenant's `ticketCounter` in the same transaction as the ticket, and a
 * `ticket.number` lookup finds it by number. GSIs (keys in ../keys.ts `ticketKeys`): gsi1 the assignee's queue,
 * gsi2 by status, gsi3 the team's queue, gsi4 recent/trash, gsi5 sync, gsi7 the priority queue. It shows on the
 * requester's (and its company's) timeline through `timelineLink` items.
 */
export const TicketEntity = new Entity(
  {
    model: { entity: 'ticket', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      ticketId: { type: 'string', required: true, readOnly: true },
      /** The per-tenant sequence number (1001, 1002...); `number` is its display form `T-1001`. */
      seq: { type: 'number', required: true, readOnly: true },
      number: { type: 'string', required: true, readOnly: true },
      subject: { type: 'string', required: true },
      description: { type: 'string' },
      status: { type: TICKET_STATUSES, required: true },
      priority: { type: TICKET_PRIORITIES, required: true },
      channel: { type: TICKET_CHANNELS, required: true },
      requesterId: { type: 'string', required: true },
      companyId: { type: 'string' },
      assigneeId: { type: 'string' },
      teamId: { type: 'string' },
      tags: { type: 'list', items: { type: 'string' } },
      category: { type: 'string' },
      customFields: { type: 'any' },
      messageCount: { type: 'number' },
      lastMessageAt: { type: 'string' },
      /** When an agent first replied publicly (first response, for SLAs). */
      firstRespondedAt: { type: 'string' },
      solvedAt: { type: 'string' },
      closedAt: { type: 'string' },
      deletedAt: { type: 'string' },
      deletedBy: { type: 'string' },
      /** The support mailbox a mail ticket came in through: replies go out from its address. */
      mailboxId: { type: 'string' },
      /** The SLA policy it counts by (absent: the tenant's default policy). */
      slaPolicyId: { type: 'string' },
      /** Its time in `pending` (shared/tickets/sla-clock.ts): recent spans, older ones folded into a total. */
      slaPauses: { type: 'any' },
      /** Due times and per-target state, written by the SLA workflow (shared/tickets/sla.ts). */
      sla: { type: 'any' },
      /** What the routing workflow did: { status: routed | fallback, ruleId?, teamId?, assigneeId?, method?, reason?, routedAt }. */
      routing: { type: 'any' },
      ...gsiKeyAttributes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'ticketId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi1', 'gsi2', 'gsi3', 'gsi4', 'gsi5', 'gsi7']),
    },
  },
  {},
);

/**
 * One message of a ticket's thread: a public reply or an internal note, by a user or by the requester (a contact).
 * Stored in the ticket's partition, sorted by `messageId` (a ULID, so by time): the thread is one Query, oldest
 * first. Messages are immutable.
 */
export const TicketMessageEntity = new Entity(
  {
    model: { entity: 'ticketMessage', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      ticketId: { type: 'string', required: true, readOnly: true },
      messageId: { type: 'string', required: true, readOnly: true },
      visibility: { type: ['public', 'internal'] as const, required: true },
      authorType: { type: ['user', 'contact'] as const, required: true },
      authorId: { type: 'string', required: true },
      bodyText: { type: 'string' },
      bodyHtml: { type: 'string' },
      attachmentIds: { type: 'list', items: { type: 'string' } },
      /** Where it came from when not typed into the API, e.g. the email part's SES message id. */
      source: { type: 'any' },
      /** Email messages (in and out): the RFC 5322 Message-ID, addresses and threading headers. */
      emailMessageId: { type: 'string' },
      from: { type: 'any' },
      to: { type: 'list', items: { type: 'string' } },
      cc: { type: 'list', items: { type: 'string' } },
      replyTo: { type: 'string' },
      subject: { type: 'string' },
      inReplyTo: { type: 'string' },
      references: { type: 'list', items: { type: 'string' } },
      /** Outbound replies: queued, then claimed (sending) by the sender, then sent or failed. */
      delivery: { type: 'any' },
    },
    indexes: {
      byTicket: {
        pk: { field: 'pk', composite: ['tenantId', 'ticketId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['messageId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

/**
 * The tenant's ticket number sequence: `last` is the highest number given out. A create reads it and writes
 * `last + 1` conditioned on the version read, in the same transaction as the ticket, so a failed create uses no
 * number and two creates never get the same one (the loser retries with a fresh read).
 */
export const TicketCounterEntity = new Entity(
  {
    model: { entity: 'ticketCounter', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true, readOnly: true },
      last: { type: 'number', required: true },
      version: { type: 'number', required: true },
      updatedAt: { type: 'string', required: true },
    },
    indexes: {
      byTenant: {
        // Like every table key, `$crm#tenantId_<t>#…`: the tenant followed by '#', as tenant-scoped IAM expects.
        pk: {
          field: 'pk',
          composite: ['tenantId'],
          template: `$crm#tenantId_\${tenantId}#ticketcounter`,
          casing: KEY_CASING,
        },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);

/**
 * A file of a ticket, stored in the attachments bucket under `tickets/<tenant>/<ticket>/<attachment>`: declared
 * first (name, type, size) and uploaded by the client with a pre-signed PUT, then referenced by messages. Kept in
 * the ticket's partition.
 */
export const TicketAttachmentEntity = new Entity(
  {
    model: { entity: 'ticketAttachment', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      ticketId: { type: 'string', required: true, readOnly: true },
      attachmentId: { type: 'string', required: true, readOnly: true },
      fileName: { type: 'string', required: true },
      contentType: { type: 'string', required: true },
      size: { type: 'number', required: true },
      objectKey: { type: 'string', required: true },
    },
    indexes: {
      byTicket: {
        pk: { field: 'pk', composite: ['tenantId', 'ticketId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['attachmentId'], casing: KEY_CASING },
      },
    },
  },
  {},
);

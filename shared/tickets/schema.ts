import * as z from 'zod';
import { Audit, CustomFieldValues, Id, PageQuery, Tags, Timestamp } from '../api/common-schemas.ts';
import { TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES } from '../db/entities/ticket.ts';
import { TicketRouting } from '../routing/schema.ts';
import { TicketSla, TicketSlaPauses } from './sla-schema.ts';

export { TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES };
export type TicketStatus = (typeof TICKET_STATUSES)[number];
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];
export type TicketChannel = (typeof TICKET_CHANNELS)[number];

/** Bounds that keep a ticket item and a message item far under DynamoDB's 400 KB (and a request under 64 KiB). */
export const TICKET_LIMITS = {
  subject: 250,
  description: 20_000,
  category: 100,
  messageText: 20_000,
  messageHtml: 40_000,
  attachmentsPerMessage: 20,
} as const;

/** `T-1042`: the display form of a ticket's sequence number. */
export const TicketNumber = z
  .string()
  .regex(/^[Tt]-?[1-9][0-9]{0,11}$/, 'A ticket number looks like T-1042.')
  .transform((n) => Number(n.replace(/^[Tt]-?/, '')));

const Status = z.enum(TICKET_STATUSES).meta({
  description:
    'new (nobody has looked), open, pending (waiting on the customer), on_hold (waiting on a third party), ' +
    'solved, closed (final: nothing changes it any more). A customer reply reopens a pending or solved ticket.',
});
const Priority = z.enum(TICKET_PRIORITIES);
const Channel = z.enum(TICKET_CHANNELS);

const fields = {
  subject: z.string().trim().min(1).max(TICKET_LIMITS.subject),
  description: z.string().max(TICKET_LIMITS.description).optional(),
  priority: Priority.optional().meta({ description: 'Defaults to normal.' }),
  channel: Channel.optional().meta({ description: 'Defaults to api.' }),
  requesterId: Id.meta({ description: 'The contact who asked; must exist (checked in the same transaction).' }),
  companyId: Id.optional().meta({ description: 'Must exist.' }),
  assigneeId: Id.optional().meta({ description: 'A user of the workspace; must exist.' }),
  teamId: Id.optional().meta({ description: 'Must exist.' }),
  tags: Tags.optional(),
  category: z.string().trim().min(1).max(TICKET_LIMITS.category).optional(),
  customFields: CustomFieldValues.optional().meta({ description: 'Declared at /v1/custom-fields/ticket.' }),
  slaPolicyId: Id.optional().meta({ description: "The SLA policy; must exist. Absent: the tenant's default policy." }),
};

export const TicketCreate = z
  .strictObject({
    ...fields,
    status: z
      .enum(['new', 'open', 'pending', 'on_hold'])
      .optional()
      .meta({ description: 'Defaults to new (open when created with an assignee).' }),
  })
  .meta({ id: 'TicketCreate' });
export type TicketCreateInput = z.output<typeof TicketCreate>;

const clearable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
export const TicketPatch = z
  .strictObject({
    subject: fields.subject.optional(),
    description: clearable(fields.description.unwrap()),
    status: Status.optional(),
    priority: Priority.optional(),
    channel: Channel.optional(),
    requesterId: Id.optional(),
    companyId: clearable(Id),
    assigneeId: clearable(Id),
    teamId: clearable(Id),
    tags: clearable(Tags),
    category: clearable(fields.category.unwrap()),
    customFields: CustomFieldValues.optional().meta({ description: 'Merged: null clears a value.' }),
    slaPolicyId: clearable(Id).meta({ description: "null: count by the tenant's default policy." }),
  })
  .meta({
    id: 'TicketPatch',
    description:
      'JSON merge patch (null clears an optional field). A closed ticket cannot change; a ticket cannot go back to new.',
  });
export type TicketPatchInput = z.output<typeof TicketPatch>;

export const Ticket = z
  .object({
    id: z.string(),
    number: z.string().meta({ description: 'T-1001, T-1002...: per tenant, without gaps.' }),
    seq: z.number().int(),
    subject: z.string(),
    description: z.string().optional(),
    status: Status,
    priority: Priority,
    channel: Channel,
    requesterId: z.string(),
    companyId: z.string().optional(),
    assigneeId: z.string().optional(),
    teamId: z.string().optional(),
    tags: z.array(z.string()).optional(),
    category: z.string().optional(),
    customFields: z.record(z.string(), z.unknown()).optional(),
    messageCount: z.number().int().optional(),
    lastMessageAt: Timestamp.optional(),
    firstRespondedAt: Timestamp.optional().meta({ description: "An agent's first public reply." }),
    solvedAt: Timestamp.optional(),
    closedAt: Timestamp.optional(),
    mailboxId: z.string().optional().meta({ description: 'The support mailbox a mail ticket came in through.' }),
    slaPolicyId: z.string().optional(),
    sla: TicketSla.optional(),
    slaPauses: TicketSlaPauses.optional(),
    routing: TicketRouting.optional().meta({ description: 'Set by the routing workflow once it has run.' }),
    ...Audit,
  })
  .meta({ id: 'Ticket' });
export type TicketView = z.infer<typeof Ticket>;

export const TicketIdParams = z.object({ ticketId: Id });
export const TicketNumberParams = z.object({ number: TicketNumber });

export const TicketListQuery = z
  .strictObject({
    ...PageQuery,
    status: Status.optional().meta({ description: 'Every live ticket with this status.' }),
    assigneeId: Id.optional().meta({ description: "The user's unresolved tickets (new, open, pending, on hold)." }),
    teamId: Id.optional().meta({ description: "The team's unresolved tickets." }),
    priority: Priority.optional().meta({ description: 'Unresolved tickets of this priority.' }),
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: 'true: deleted tickets, most recently deleted first.' }),
    updatedSince: Timestamp.optional().meta({
      description: 'Delta sync: every ticket changed at or after this time, oldest first, including deleted ones.',
    }),
  })
  .meta({ id: 'TicketListQuery' });
export type TicketListQueryInput = z.output<typeof TicketListQuery>;

export const TicketMessageCreate = z
  .strictObject({
    visibility: z
      .enum(['public', 'internal'])
      .optional()
      .meta({ description: 'public: a reply the customer sees; internal: a note for agents. Defaults to public.' }),
    authorType: z
      .enum(['user', 'contact'])
      .optional()
      .meta({
        description:
          'user (default): the caller writes it. contact: records a message from the requester (e.g. taken on the ' +
          'phone); it reopens a pending or solved ticket, as a customer reply does.',
      }),
    bodyText: z.string().max(TICKET_LIMITS.messageText).optional(),
    bodyHtml: z.string().max(TICKET_LIMITS.messageHtml).optional(),
    attachmentIds: z
      .array(Id)
      .max(TICKET_LIMITS.attachmentsPerMessage)
      .refine((ids) => new Set(ids).size === ids.length, 'Each attachment once.')
      .optional()
      .meta({ description: 'Files declared with POST …/attachments and uploaded to their upload URL.' }),
    status: Status.exclude(['new'])
      .optional()
      .meta({ description: "Set the ticket's status with this message (an agent's reply and pending, say)." }),
  })
  .refine((m) => (m.bodyText ?? '').trim() !== '' || (m.bodyHtml ?? '').trim() !== '', {
    path: ['bodyText'],
    message: 'Give bodyText or bodyHtml.',
  })
  .refine((m) => !(m.authorType === 'contact' && m.visibility === 'internal'), {
    path: ['visibility'],
    message: 'A message from the requester is public.',
  })
  .meta({ id: 'TicketMessageCreate' });
export type TicketMessageCreateInput = z.output<typeof TicketMessageCreate>;

export const TicketMessage = z
  .object({
    id: z.string(),
    ticketId: z.string(),
    visibility: z.enum(['public', 'internal']),
    authorType: z.enum(['user', 'contact']),
    authorId: z.string(),
    bodyText: z.string().optional(),
    bodyHtml: z.string().optional(),
    attachmentIds: z.array(z.string()).optional(),
    source: z.record(z.string(), z.unknown()).optional(),
    emailMessageId: z.string().optional().meta({ description: 'The RFC 5322 Message-ID of an email message.' }),
    from: z.object({ address: z.string(), name: z.string().optional() }).optional(),
    to: z.array(z.string()).optional(),
    cc: z.array(z.string()).optional(),
    replyTo: z.string().optional(),
    subject: z.string().optional(),
    inReplyTo: z.string().optional(),
    references: z.array(z.string()).optional(),
    delivery: z
      .object({
        status: z.enum(['queued', 'sending', 'sent', 'failed']),
        sesMessageId: z.string().optional(),
        sentAt: Timestamp.optional(),
        error: z.string().optional(),
      })
      .optional()
      .meta({ description: 'Outbound replies: queued, sending, then sent (with SES message id) or failed.' }),
    ...Audit,
  })
  .meta({ id: 'TicketMessage' });
export type TicketMessageView = z.infer<typeof TicketMessage>;

/** Bounds of an agent's email reply. */
export const REPLY_LIMITS = { cc: 20, references: 20 } as const;

export const TicketReplyCreate = z
  .strictObject({
    bodyText: z.string().trim().min(1).max(TICKET_LIMITS.messageText),
    bodyHtml: z.string().max(TICKET_LIMITS.messageHtml).optional(),
    cc: z
      .array(
        z
          .string()
          .trim()
          .max(254)
          .pipe(z.email({ message: 'Not a valid email address.' })),
      )
      .max(REPLY_LIMITS.cc)
      .optional(),
    attachmentIds: z
      .array(Id)
      .max(TICKET_LIMITS.attachmentsPerMessage)
      .refine((ids) => new Set(ids).size === ids.length, 'Each attachment once.')
      .optional()
      .meta({ description: 'Files declared with POST …/attachments and uploaded; they go out with the mail.' }),
    status: Status.exclude(['new'])
      .optional()
      .meta({ description: "Set the ticket's status with the reply (pending, say, to wait on the customer)." }),
  })
  .meta({ id: 'TicketReplyCreate' });
export type TicketReplyCreateInput = z.output<typeof TicketReplyCreate>;

export const TicketMessagePosted = z
  .object({ message: TicketMessage, ticket: Ticket })
  .meta({ id: 'TicketMessagePosted', description: 'The new message and the ticket as it is after it.' });

export const TicketMessageListQuery = z.strictObject({ ...PageQuery });

/** A file name as it downloads: no path separators, quotes or control characters. */
const FileName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/\\"\p{Cc}]+$/u, 'No slashes, backslashes, quotes or control characters.');

export const TicketAttachmentCreate = z
  .strictObject({
    fileName: FileName,
    contentType: z
      .string()
      .max(100)
      .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i, 'A media type such as image/png.')
      .transform((t) => t.toLowerCase()),
    size: z
      .number()
      .int()
      .min(1)
      .max(25 * 1024 * 1024)
      .meta({ description: 'In bytes, at most 25 MiB: the upload must have exactly this Content-Length.' }),
  })
  .meta({ id: 'TicketAttachmentCreate' });

const AttachmentFields = {
  id: z.string(),
  ticketId: z.string(),
  fileName: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  createdAt: Timestamp,
  createdBy: z.string().optional(),
};

export const TicketAttachmentUpload = z
  .object({
    ...AttachmentFields,
    upload: z.object({
      method: z.literal('PUT'),
      url: z.string().meta({ description: 'A pre-signed URL, valid for 15 minutes.' }),
      headers: z.record(z.string(), z.string()).meta({ description: 'Send exactly these headers with the PUT.' }),
      expiresAt: Timestamp,
    }),
  })
  .meta({ id: 'TicketAttachmentUpload' });

export const TicketAttachment = z
  .object({
    ...AttachmentFields,
    download: z.object({
      url: z.string().meta({ description: 'A pre-signed GET, valid for 15 minutes.' }),
      expiresAt: Timestamp,
    }),
  })
  .meta({ id: 'TicketAttachment' });

export const TicketAttachmentParams = z.object({ ticketId: Id, attachmentId: Id });

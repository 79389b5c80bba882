import * as z from 'zod';
import type { Principal } from '../auth/principal.ts';
import { lazyConfig } from '../config.ts';
import { model } from '../db/store.ts';
import { DomainError } from '../errors.ts';
import type { ApiRequest } from '../http/request.ts';
import { readMailbox } from '../mailboxes/service.ts';
import { ourMessageId, plusAddress, replySubject } from './mail-headers.ts';
import { REPLY_LIMITS, type TicketReplyCreateInput } from './schema.ts';
import { appendMessage, newMessageId, readLive } from './service.ts';

/** MAIL_DOMAIN: the domain of our Message-IDs (`<message.ticket.tenant@MAIL_DOMAIN>`). */
export const mailConfig = lazyConfig(z.object({ MAIL_DOMAIN: z.string().min(1).default('crm.local') }));

/** How many of the newest messages a reply looks through for the customer's latest mail. */
const THREAD_WINDOW = 50;

interface ThreadMessage {
  authorType: 'user' | 'contact';
  emailMessageId?: string;
  references?: string[];
  from?: { address: string };
}

/** The newest customer mail of the thread (one Query, newest first, bounded), for In-Reply-To and References. */
async function latestCustomerMail(tenantId: string, ticketId: string): Promise<ThreadMessage | undefined> {
  const { data } = await model.entities.ticketMessage.query
    .byTicket({ tenantId, ticketId })
    .go({ order: 'desc', limit: THREAD_WINDOW });
  return (data as unknown as ThreadMessage[]).find((m) => m.authorType === 'contact' && m.emailMessageId);
}

/** The requester's primary email (one GetItem), when the thread has no mail to answer. */
async function requesterEmail(tenantId: string, contactId: string): Promise<string | undefined> {
  const { data } = await model.entities.contact.get({ tenantId, contactId }).go();
  const emails = (data as { emails?: string[] } | null)?.emails;
  return emails?.[0];
}

/**
 * An agent's email reply: a public message with our Message-ID, In-Reply-To the customer's latest mail and the
 * thread's References (bounded), From the ticket's mailbox and Reply-To its `+T-<number>` address, stored with
 * `delivery: queued` in the ticket's usual message transaction (so a first reply sets firstRespondedAt). Nothing is
 * sent here: the reply sender consumes the message's `ticket.message_added` from the stream and sends it once.
 */
export async function postReply(
  principal: Principal,
  ticketId: string,
  input: TicketReplyCreateInput,
  idempotency?: ApiRequest['idempotency'],
) {
  const tenantId = principal.tenantId;
  const ticket = await readLive(tenantId, ticketId);
  if (!ticket.mailboxId) {
    throw new DomainError(
      409,
      'ticket.no_mailbox',
      `Ticket ${ticket.number} did not come in through a support mailbox, so it has no address to reply from.`,
    );
  }
  const mailbox = await readMailbox(tenantId, ticket.mailboxId);
  if (!mailbox) {
    throw new DomainError(409, 'ticket.mailbox_missing', `The mailbox of ticket ${ticket.number} no longer exists.`);
  }
  const parent = await latestCustomerMail(tenantId, ticketId);
  const to = parent?.from?.address ?? (await requesterEmail(tenantId, ticket.requesterId));
  if (!to) {
    throw new DomainError(409, 'ticket.requester_no_email', `The requester of ${ticket.number} has no email address.`);
  }
  const references = parent?.emailMessageId
    ? [...(parent.references ?? []), parent.emailMessageId].slice(-REPLY_LIMITS.references)
    : [];
  const messageId = newMessageId();
  const fromName = mailbox.replyName ?? mailbox.name;
  return appendMessage(
    tenantId,
    principal.userId,
    ticketId,
    {
      visibility: 'public',
      authorType: 'user',
      authorId: principal.userId,
      bodyText: input.bodyText,
      bodyHtml: input.bodyHtml,
      ...(input.attachmentIds?.length ? { attachmentIds: input.attachmentIds } : {}),
      status: input.status,
      emailMessageId: ourMessageId(messageId, ticketId, tenantId, mailConfig().MAIL_DOMAIN),
      from: { address: mailbox.address, ...(fromName ? { name: fromName } : {}) },
      to: [to],
      ...(input.cc?.length ? { cc: [...new Set(input.cc.map((a) => a.toLowerCase()))] } : {}),
      replyTo: plusAddress(mailbox.address, ticket.number),
      subject: replySubject(ticket.subject, ticket.number),
      ...(parent?.emailMessageId ? { inReplyTo: parent.emailMessageId } : {}),
      ...(references.length ? { references } : {}),
      delivery: { status: 'queued' },
    },
    idempotency,
    { messageId },
  );
}

import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import PostalMime, { type Email } from 'postal-mime';
import { encodeTime } from 'ulid';
import type { EmailReceivedV2Detail } from '../../events/catalog.ts';
import type { Principal } from '../auth/principal.ts';
import { ContactCreate } from '../contacts/schema.ts';
import { createContact } from '../contacts/service.ts';
import type { ItemWrite } from '../db/store.ts';
import { model } from '../db/store.ts';
import { ConflictError, DomainError, ValidationError } from '../errors.ts';
import { queryLookup } from '../records/lists.ts';
import { storeAttachment } from './attachments.ts';
import {
  automaticMailReason,
  messageIdKey,
  parseOurMessageId,
  subaddressTag,
  threadIds,
  ticketNumberInSubject,
  ticketNumberInTag,
} from './mail-headers.ts';
import { mailConfig } from './replies.ts';
import { TICKET_LIMITS, type TicketPriority } from './schema.ts';
import { addCustomerMessage, createTicket, type NewMessage, readTicket } from './service.ts';

/** Bounds on what a mail keeps: files beyond them are skipped and named on the message, never failing the mail. */
export const MAIL_ATTACHMENT_LIMITS = {
  count: TICKET_LIMITS.attachmentsPerMessage,
  fileBytes: 10 * 1024 * 1024,
  totalBytes: 25 * 1024 * 1024,
} as const;

/** Who writes what mail creates (contacts, tickets, files): the mail itself, not a user. */
const MAIL_ACTOR = 'system:email';

export type MailOutcome =
  | { kind: 'duplicate' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'reply'; ticketId: string; via: ThreadedVia }
  | { kind: 'ticket'; ticketId: string };

type ThreadedVia = 'message-id' | 'subject-token' | 'plus-address';

export interface MailDeps {
  s3: S3Client;
  /** Only this bucket and prefix are read (where the receipt rule stores mail). */
  inboundBucket: string;
  inboundPrefix: string;
}

/** The mail's de-duplication item was written by an earlier delivery: this one adds nothing. */
class AlreadyTaken extends DomainError {
  constructor() {
    super(409, 'mail.already_taken', 'This mail was already taken.');
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID-shaped id derived from the mail (time: when it was received; the rest: a hash of tenant, SES id and
 * purpose), so every delivery of one mail picks the same ticket and file ids and a retry rewrites, not duplicates.
 */
export function derivedId(receivedAt: string, ...seed: string[]): string {
  const hash = createHash('sha256').update(seed.join('\n')).digest();
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[hash[i]! % 32];
  return encodeTime(Date.parse(receivedAt), 10) + random;
}

const cut = (text: string, max: number) => (text.length > max ? text.slice(0, max) : text);

/** A crude text of an HTML-only mail for the ticket's description (the HTML itself is kept on the message). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6])>/gi, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n\n')
    .trim();
}

const systemPrincipal = (tenantId: string): Principal => ({ tenantId, userId: MAIL_ACTOR, roles: [] });

/** The sender's contact: found by address (one lookup Query), else created under the tenant's duplicate policy. */
async function senderContact(tenantId: string, address: string, name?: string): Promise<string | undefined> {
  const found = async () =>
    (await queryLookup<{ id: string }>(tenantId, 'contact.email', address, { limit: 1 })).items[0]?.id;
  const existing = await found();
  if (existing) return existing;
  const [first, ...rest] = (name ?? '').trim().split(/\s+/).filter(Boolean);
  const input = ContactCreate.safeParse({
    emails: [address],
    ...(first ? { firstName: cut(first, 100) } : {}),
    ...(rest.length ? { lastName: cut(rest.join(' '), 100) } : {}),
  });
  if (!input.success) return undefined;
  try {
    return (await createContact(systemPrincipal(tenantId), input.data)).id;
  } catch (error) {
    // Policy block: the address is claimed (a concurrent mail created the contact): that contact is the sender.
    if (error instanceof ConflictError && typeof error.extra.existingId === 'string') return error.extra.existingId;
    if (error instanceof ConflictError) return found();
    throw error;
  }
}

async function ticketIdByNumber(tenantId: string, seq: number): Promise<string | undefined> {
  return (await queryLookup<{ id: string }>(tenantId, 'ticket.number', String(seq), { limit: 1 })).items[0]?.id;
}

/**
 * The ticket a mail continues, in order: In-Reply-To / References (ours parse directly and must name this tenant;
 * customers' own earlier ids through their lookup items), then `[T-1042]` in the subject, then a `+T-1042`
 * recipient. A number is guessable, so a subject token or plus-address threads only mail from the ticket's requester.
 */
async function threadedTicket(
  tenantId: string,
  mail: { inReplyTo?: string | undefined; references: string[]; subject: string; recipient: string },
  senderId: string,
): Promise<{ ticketId: string; via: ThreadedVia } | undefined> {
  const domain = mailConfig().MAIL_DOMAIN;
  for (const id of threadIds(mail.inReplyTo, mail.references)) {
    const ours = parseOurMessageId(id, domain);
    if (ours) {
      if (ours.tenantId === tenantId) return { ticketId: ours.ticketId, via: 'message-id' };
      continue;
    }
    const key = messageIdKey(id);
    if (!key) continue;
    const { items } = await queryLookup<{ ticketId: string }>(tenantId, 'ticket.emailMessageId', key, { limit: 1 });
    if (items[0]) return { ticketId: items[0].ticketId, via: 'message-id' };
  }
  const bySubject = ticketNumberInSubject(mail.subject);
  const byTag = ticketNumberInTag(subaddressTag(mail.recipient));
  for (const [seq, via] of [
    [bySubject, 'subject-token'],
    [byTag, 'plus-address'],
  ] as const) {
    if (seq === undefined) continue;
    const ticketId = await ticketIdByNumber(tenantId, seq);
    const ticket = ticketId ? await readTicket(tenantId, ticketId) : undefined;
    if (ticket && ticket.requesterId === senderId) return { ticketId: ticket.ticketId, via };
  }
  return undefined;
}

/** A ticket that can take the mail: live and not closed (a closed one gets a follow-up ticket instead). */
async function openTicket(tenantId: string, ticketId: string) {
  const ticket = await readTicket(tenantId, ticketId);
  return ticket && !ticket.deletedAt && ticket.status !== 'closed' ? ticket : undefined;
}

interface KeptFiles {
  attachmentIds: string[];
  skipped: Array<{ fileName: string; bytes: number; reason: 'too_large' | 'too_many' | 'total_too_large' }>;
}

/** Stores the mail's files for the ticket (bounded; ids derived from the mail, so a redelivery rewrites them). */
async function keepAttachments(
  tenantId: string,
  ticketId: string,
  detail: EmailReceivedV2Detail,
  mail: Email,
): Promise<KeptFiles> {
  const kept: KeptFiles = { attachmentIds: [], skipped: [] };
  let total = 0;
  for (const [index, part] of mail.attachments.entries()) {
    const body =
      typeof part.content === 'string'
        ? Buffer.from(part.content, part.encoding === 'base64' ? 'base64' : 'utf8')
        : part.content instanceof Uint8Array
          ? part.content
          : new Uint8Array(part.content);
    const fileName = cut((part.filename ?? '').replace(/[/\\"\p{Cc}]/gu, '_').trim() || `attachment-${index + 1}`, 200);
    const bytes = body.byteLength;
    const reason =
      kept.attachmentIds.length >= MAIL_ATTACHMENT_LIMITS.count
        ? 'too_many'
        : bytes > MAIL_ATTACHMENT_LIMITS.fileBytes
          ? 'too_large'
          : total + bytes > MAIL_ATTACHMENT_LIMITS.totalBytes
            ? 'total_too_large'
            : undefined;
    if (reason || bytes === 0) {
      if (reason) kept.skipped.push({ fileName, bytes, reason });
      continue;
    }
    const attachmentId = derivedId(detail.receivedAt, tenantId, detail.sesMessageId, 'attachment', String(index));
    const contentType = /^[a-z0-9][\w!#$&^.+-]*\/[\w!#$&^.+-]+$/i.test(part.mimeType)
      ? part.mimeType.toLowerCase()
      : 'application/octet-stream';
    try {
      await storeAttachment(tenantId, ticketId, MAIL_ACTOR, { fileName, contentType, body }, attachmentId);
    } catch (error) {
      // An earlier delivery of this mail stored it already (same id): it is there.
      if (!(error instanceof ConflictError && error.code === 'ticket.attachment_exists')) throw error;
    }
    total += bytes;
    kept.attachmentIds.push(attachmentId);
  }
  return kept;
}

const FLAG_TAGS: Record<string, string> = {
  spam: 'spam-suspected',
  spf: 'sender-unverified',
  dkim: 'sender-unverified',
  dmarc: 'sender-unverified',
};

async function readRaw(deps: MailDeps, detail: EmailReceivedV2Detail): Promise<Uint8Array> {
  if (detail.s3.bucket !== deps.inboundBucket || !detail.s3.key.startsWith(deps.inboundPrefix)) {
    throw new Error(`email.received names ${detail.s3.bucket}/${detail.s3.key}, outside the inbound mail prefix`);
  }
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: detail.s3.bucket, Key: detail.s3.key }));
  return object.Body!.transformToByteArray();
}

/**
 * Turns one `email.received` (v2) into a ticket or a reply on one. Loops and automatic mail are dropped before
 * anything is written. The mail's de-duplication item (its SES message id) is written in the same transaction as its
 * message (and, for a new ticket, the ticket), and every id it creates is derived from the mail, so any number of
 * deliveries, including one after a partial failure, leaves exactly one message.
 */
export async function ticketFromMail(deps: MailDeps, detail: EmailReceivedV2Detail): Promise<MailOutcome> {
  const tenantId = detail.tenantId;
  const dedupeKey = { tenantId, kind: 'ticket.sesMessageId' as const, value: detail.sesMessageId, targetId: 'mail' };
  const { data: taken } = await model.entities.lookup.get(dedupeKey).go({ consistent: true });
  if (taken) return { kind: 'duplicate' };

  const domain = mailConfig().MAIL_DOMAIN;
  const fromEvent = automaticMailReason({
    headers: new Map([
      ...(detail.autoSubmitted ? [['auto-submitted', detail.autoSubmitted] as const] : []),
      ...(detail.precedence ? [['precedence', detail.precedence] as const] : []),
    ]),
    envelopeFrom: detail.envelopeFrom,
    fromAddress: detail.from.address,
    messageId: detail.messageId,
    domain,
    mailboxAddress: detail.mailbox.address,
  });
  if (fromEvent) return { kind: 'ignored', reason: fromEvent };
  if (detail.unparsed) return { kind: 'ignored', reason: 'unparsed' };

  const mail = await PostalMime.parse(await readRaw(deps, detail));
  const headers = new Map<string, string>();
  for (const h of mail.headers) if (!headers.has(h.key)) headers.set(h.key, h.value.slice(0, 200));
  const fromAddress = (mail.from?.address ?? detail.from.address).trim().toLowerCase();
  const reason = automaticMailReason({
    headers,
    envelopeFrom: detail.envelopeFrom,
    fromAddress,
    messageId: mail.messageId,
    domain,
    mailboxAddress: detail.mailbox.address,
  });
  if (reason) return { kind: 'ignored', reason };
  // The same mail sent again over SMTP gets a new SES id: its own Message-ID, stored from the same sender, is the
  // same mail (a forged id from anyone else does not suppress anything).
  const ownKey = mail.messageId ? messageIdKey(mail.messageId) : undefined;
  if (ownKey) {
    const seen = await queryLookup<{ from?: string }>(tenantId, 'ticket.emailMessageId', ownKey, { limit: 10 });
    if (seen.items.some((item) => item.from === fromAddress)) return { kind: 'duplicate' };
  }

  const senderId = await senderContact(tenantId, fromAddress, mail.from?.name || detail.from.name);
  if (!senderId) return { kind: 'ignored', reason: 'no-sender-address' };

  const threaded = await threadedTicket(tenantId, detail, senderId);
  const target = threaded ? await openTicket(tenantId, threaded.ticketId) : undefined;
  const ticketId = target?.ticketId ?? derivedId(detail.receivedAt, tenantId, detail.sesMessageId, 'ticket');
  const files = await keepAttachments(tenantId, ticketId, detail, mail);

  const text = mail.text ?? (mail.html ? htmlToText(mail.html) : '');
  const truncated = [
    ...(text.length > TICKET_LIMITS.messageText ? ['bodyText'] : []),
    ...((mail.html?.length ?? 0) > TICKET_LIMITS.messageHtml ? ['bodyHtml'] : []),
    ...(detail.truncated ?? []),
  ];
  const source = {
    channel: 'email',
    sesMessageId: detail.sesMessageId,
    mailboxId: detail.mailbox.id,
    recipient: detail.recipient,
    s3: detail.s3,
    ...(detail.flagged.length ? { flagged: detail.flagged } : {}),
    ...(files.skipped.length ? { skippedAttachments: files.skipped } : {}),
    ...(truncated.length ? { truncated } : {}),
  };
  const email = {
    ...(mail.messageId ? { emailMessageId: cut(mail.messageId, 998) } : {}),
    from: { address: fromAddress, ...(mail.from?.name ? { name: cut(mail.from.name, 256) } : {}) },
    to: detail.to,
    ...(detail.cc.length ? { cc: detail.cc } : {}),
    subject: detail.subject,
    ...(detail.inReplyTo ? { inReplyTo: detail.inReplyTo } : {}),
    ...(detail.references.length ? { references: detail.references } : {}),
  };
  const bodies = {
    ...(text.trim() ? { bodyText: cut(text, TICKET_LIMITS.messageText) } : {}),
    ...(mail.html?.trim() ? { bodyHtml: cut(mail.html, TICKET_LIMITS.messageHtml) } : {}),
  };
  const messageIdLookup = (forTicket: string): ItemWrite[] =>
    ownKey
      ? [
          {
            put: 'lookup',
            item: {
              tenantId,
              kind: 'ticket.emailMessageId',
              value: ownKey,
              targetId: forTicket,
              summary: { ticketId: forTicket, from: fromAddress },
            },
          },
        ]
      : [];
  const dedupe = (forTicket: string): ItemWrite => ({
    put: 'lookup',
    item: { ...dedupeKey, summary: { ticketId: forTicket } },
    mustBeNew: true,
    onConflict: () => new AlreadyTaken(),
  });

  try {
    if (target) {
      await addCustomerMessage(
        tenantId,
        target.ticketId,
        {
          contactId: senderId,
          ...bodies,
          ...(files.attachmentIds.length ? { attachmentIds: files.attachmentIds } : {}),
          source,
          email,
        },
        [dedupe(target.ticketId), ...messageIdLookup(target.ticketId)],
      );
      return { kind: 'reply', ticketId: target.ticketId, via: threaded!.via };
    }
    const tags = [...new Set(detail.flagged.map((f) => FLAG_TAGS[f]).filter((t): t is string => Boolean(t)))];
    const firstMessage: NewMessage = {
      visibility: 'public',
      authorType: 'contact',
      authorId: senderId,
      ...bodies,
      ...(files.attachmentIds.length ? { attachmentIds: files.attachmentIds } : {}),
      source,
      ...email,
    };
    const create = (teamId: string | undefined) =>
      createTicket(
        systemPrincipal(tenantId),
        {
          subject: cut(detail.subject.trim(), TICKET_LIMITS.subject) || '(no subject)',
          ...(text.trim() ? { description: cut(text, TICKET_LIMITS.description) } : {}),
          priority: detail.mailbox.defaultPriority as TicketPriority,
          channel: 'email',
          requesterId: senderId,
          ...(teamId ? { teamId } : {}),
          ...(tags.length ? { tags } : {}),
        },
        undefined,
        {
          ticketId,
          mailboxId: detail.mailbox.id,
          firstMessage,
          items: [dedupe(ticketId), ...messageIdLookup(ticketId)],
        },
      );
    try {
      await create(detail.mailbox.teamId);
    } catch (error) {
      // The mailbox's team was deleted: the ticket still opens, unrouted, rather than the mail being lost.
      if (!(error instanceof ValidationError && error.code === 'ticket.team_not_found')) throw error;
      await create(undefined);
    }
    return { kind: 'ticket', ticketId };
  } catch (error) {
    if (error instanceof AlreadyTaken) return { kind: 'duplicate' };
    // A ticket created by an earlier delivery that failed after it, or racing with this one: the same id.
    if (error instanceof ConflictError && error.code === 'ticket.exists') return { kind: 'duplicate' };
    throw error;
  }
}

/**
 * Pure header logic of tickets by email: our own Message-IDs (contract 3 of issue 7), the keys customers'
 * Message-IDs are looked up by, ticket numbers in subjects and plus-addresses, and what counts as automatic mail.
 */

/** How many thread ids (In-Reply-To, then the newest References) a mail is threaded by at most: one Query each. */
export const MAX_THREAD_IDS = 10;

const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const OURS = new RegExp(`^<?(${ULID})\\.(${ULID})\\.([A-Za-z0-9_-]{1,64})@([^<>@\\s]+)>?$`, 'i');

/** Our Message-ID of a ticket's message: `<{messageId}.{ticketId}.{tenantId}@{domain}>`, threadable without a lookup. */
export const ourMessageId = (messageId: string, ticketId: string, tenantId: string, domain: string) =>
  `<${messageId}.${ticketId}.${tenantId}@${domain}>`;

/** The parts of one of our Message-IDs, or undefined when it is not ours (another domain or shape). */
export function parseOurMessageId(
  id: string,
  domain: string,
): { messageId: string; ticketId: string; tenantId: string } | undefined {
  const match = OURS.exec(id.trim());
  if (!match || match[4]!.toLowerCase() !== domain.toLowerCase()) return undefined;
  return { messageId: match[1]!.toUpperCase(), ticketId: match[2]!.toUpperCase(), tenantId: match[3]! };
}

/**
 * The lookup key of a Message-ID: without angle brackets, lower-cased (clients keep ids verbatim, but case is the
 * only variation seen in practice). SES replaces the Message-ID of what it sends with `<sesId@<region>.amazonses.com>`
 * (the host varies by region), so those key on SES's id alone: the sender records that key when SES answers.
 */
export function messageIdKey(id: string): string | undefined {
  const bare = id.trim().replace(/^<|>$/g, '').trim().toLowerCase();
  if (!bare || bare.length > 998 || /\s/.test(bare)) return undefined;
  const at = bare.lastIndexOf('@');
  if (at > 0 && /(^|\.)amazonses\.com$/.test(bare.slice(at + 1))) return `ses:${bare.slice(0, at)}`;
  return bare;
}

/** The ids a reply is threaded by, most specific first: In-Reply-To, then References newest first; bounded. */
export function threadIds(inReplyTo: string | undefined, references: readonly string[]): string[] {
  const ids = [...(inReplyTo ? inReplyTo.split(/\s+/) : []), ...[...references].reverse()]
    .map((id) => id.trim())
    .filter(Boolean);
  return [...new Set(ids)].slice(0, MAX_THREAD_IDS);
}

/** `[T-1042]` in a subject (the token our replies carry): the number, else undefined. */
export function ticketNumberInSubject(subject: string): number | undefined {
  const match = /\[T-([1-9][0-9]{0,11})\]/i.exec(subject);
  return match ? Number(match[1]) : undefined;
}

/** The `+tag` of an address's local part (`support+T-1042@acme.com` → `T-1042`), if any. */
export function subaddressTag(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const plus = local.indexOf('+');
  return plus < 0 || plus === local.length - 1 ? undefined : local.slice(plus + 1);
}

/** A ticket number in a plus-address tag (`T-1042`), else undefined. */
export function ticketNumberInTag(tag: string | undefined): number | undefined {
  const match = tag ? /^T-?([1-9][0-9]{0,11})$/i.exec(tag) : null;
  return match ? Number(match[1]) : undefined;
}

/** `support@acme.com` with `T-1042` → `support+T-1042@acme.com` (any tag it had replaced). */
export function plusAddress(address: string, tag: string): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).split('+')[0];
  return `${local}+${tag}${address.slice(at)}`;
}

/** A reply's subject: `Re: <subject> [T-1042]`, without stacking Re: or the token. */
export function replySubject(subject: string, number: string): string {
  const base = subject.replace(/^\s*((re|aw|sv|fwd?)\s*:\s*)+/i, '').trim();
  const token = `[${number}]`;
  return `Re: ${base.includes(token) ? base : `${base} ${token}`.trim()}`;
}

export interface AutomaticMailInput {
  /** Header name (lower-case) → value, the first occurrence. */
  headers: ReadonlyMap<string, string>;
  /** SMTP MAIL FROM; empty for a null sender (a bounce). */
  envelopeFrom: string;
  fromAddress: string;
  /** The mail's own Message-ID. */
  messageId: string | undefined;
  /** Our Message-ID domain. */
  domain: string;
  /** The mailbox it came in through: mail from it is mail from ourselves. */
  mailboxAddress: string;
}

const BULK_PRECEDENCE = new Set(['bulk', 'junk', 'list', 'auto_reply']);

/**
 * Why a mail must neither open a ticket nor be answered (auto-replies, bounces, lists, our own mail coming back),
 * or undefined for a person's mail. RFC 3834 (Auto-Submitted), the de-facto Precedence and X-Autoreply /
 * X-Autorespond headers, null senders and MAILER-DAEMON / postmaster bounces (RFC 3464 multipart/report).
 */
export function automaticMailReason(mail: AutomaticMailInput): string | undefined {
  const header = (name: string) => mail.headers.get(name)?.trim().toLowerCase();
  const autoSubmitted = header('auto-submitted');
  if (autoSubmitted && autoSubmitted.split(';')[0]!.trim() !== 'no') return 'auto-submitted';
  const precedence = header('precedence');
  if (precedence && BULK_PRECEDENCE.has(precedence)) return `precedence-${precedence}`;
  if (mail.headers.has('x-autoreply') || mail.headers.has('x-autorespond')) return 'auto-reply';
  if (mail.envelopeFrom.trim() === '' || mail.envelopeFrom.trim() === '<>') return 'null-sender';
  const sender = mail.fromAddress.trim().toLowerCase();
  const local = sender.split('@')[0] ?? '';
  if (local === 'mailer-daemon' || local === 'postmaster') return 'bounce';
  if (header('content-type')?.startsWith('multipart/report')) return 'bounce';
  if (mail.messageId && parseOurMessageId(mail.messageId, mail.domain)) return 'own-message';
  const mailbox = mail.mailboxAddress.trim().toLowerCase();
  if (sender && sender.replace(/\+[^@]*@/, '@') === mailbox) return 'own-mailbox';
  return undefined;
}

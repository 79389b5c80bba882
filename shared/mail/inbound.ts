import PostalMime, { type Email } from 'postal-mime';
import {
  type CatalogEvent,
  catalogEvent,
  type EmailReceivedV1Detail,
  type EmailReceivedV2Detail,
  MAIL_HEADER_HINT_BYTES,
  MAIL_LIMITS,
} from '../../events/catalog.ts';
import { EVENT_BUDGET_BYTES, entrySize } from '../events/bounds.ts';

/** What a string takes inside an event's JSON: its escaped form in UTF-8, without the quotes. */
export const jsonStringBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;

/**
 * The longest prefix of `text` that takes at most `maxBytes` inside JSON (escapes count: a control character takes
 * six bytes), never splitting a character or a surrogate pair. Returns the text itself when it fits.
 */
export function truncateToBytes(text: string, maxBytes: number): string {
  if (jsonStringBytes(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = jsonStringBytes(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

export interface MessageLocation {
  bucket: string;
  key: string;
  /** SES's id of the message (the object key's last part), used when the message has no Message-ID. */
  messageId: string;
  receivedAt: string;
  /** The SMTP envelope SES accepted: described instead when the message cannot be parsed. */
  envelope?: { from: string; to: string[] };
}

const splitIds = (value: string | undefined) => (value ? value.split(/\s+/).filter(Boolean) : []);

/** What a message says about itself, bounded: the part of `email.received` every tenant's event shares. */
export type MessageDescription = Omit<EmailReceivedV1Detail, 'schemaVersion'> & {
  autoSubmitted?: string;
  precedence?: string;
};

/**
 * Parses a raw MIME message that SES stored and describes it for `email.received`. Every header is
 * sender-controlled, so each field is bounded (MAIL_LIMITS in the catalog): strings are cut to their byte limit (as
 * they count in the event's JSON),
 * address lists to their count (an address too long to be real is left out rather than cut), references to the most
 * recent ones. Fields that lost anything are named in `truncated`; the raw message stays in S3, referenced by `s3`.
 * The event always fits EventBridge's entry limit.
 */
export async function describeMessage(
  raw: Uint8Array | string,
  location: MessageLocation,
): Promise<MessageDescription> {
  const truncated = new Set<string>();
  const bounded = (field: string, value: string, maxBytes: number) => {
    const cut = truncateToBytes(value, maxBytes);
    if (cut !== value) truncated.add(field);
    return cut;
  };
  const boundedList = (field: string, all: string[]) => {
    const fitting = all.filter((a) => jsonStringBytes(a) <= MAIL_LIMITS.addressBytes);
    if (fitting.length > MAIL_LIMITS.addresses || fitting.length < all.length) truncated.add(field);
    return fitting.slice(0, MAIL_LIMITS.addresses);
  };

  let mail: Email;
  try {
    mail = await PostalMime.parse(raw);
  } catch {
    // postal-mime refuses what it cannot take safely (over 2 MiB of headers, MIME nested too deep): describe the
    // envelope SES accepted, so the message still reaches consumers, who find the rest in S3.
    const sender = location.envelope?.from ?? '';
    const unparsed: MessageDescription = {
      messageId: bounded('messageId', location.messageId, MAIL_LIMITS.headerBytes),
      s3: { bucket: location.bucket, key: location.key },
      from: { address: jsonStringBytes(sender) <= MAIL_LIMITS.addressBytes ? sender : '' },
      to: boundedList('to', location.envelope?.to ?? []),
      cc: [],
      subject: '',
      references: [],
      unparsed: true,
      receivedAt: location.receivedAt,
    };
    if (truncated.size > 0) unparsed.truncated = [...truncated].sort();
    return unparsed;
  }
  const addresses = (field: string, list: typeof mail.to) =>
    boundedList(
      field,
      (list ?? [])
        .flatMap((a) => ('group' in a && a.group ? a.group.map((g) => g.address) : [a.address]))
        .filter((a): a is string => Boolean(a)),
    );
  const references = splitIds(mail.references);
  // An address too long to be real is left out, never cut into another address.
  const fromAddress = mail.from?.address ?? '';
  const fromFits = jsonStringBytes(fromAddress) <= MAIL_LIMITS.addressBytes;
  if (!fromFits) truncated.add('from');

  // Kept short for loop and auto-reply detection; the whole header is in S3.
  const hint = (field: 'autoSubmitted' | 'precedence', name: string) => {
    const value = mail.headers.find((h) => h.key === name)?.value.trim();
    return value ? { [field]: bounded(field, value, MAIL_HEADER_HINT_BYTES) } : {};
  };

  const detail: MessageDescription = {
    messageId: bounded('messageId', mail.messageId ?? location.messageId, MAIL_LIMITS.headerBytes),
    s3: { bucket: location.bucket, key: location.key },
    from: {
      address: fromFits ? fromAddress : '',
      ...(mail.from?.name ? { name: bounded('from', mail.from.name, MAIL_LIMITS.nameBytes) } : {}),
    },
    to: addresses('to', mail.to),
    cc: addresses('cc', mail.cc),
    subject: bounded('subject', mail.subject ?? '', MAIL_LIMITS.headerBytes),
    ...(mail.inReplyTo ? { inReplyTo: bounded('inReplyTo', mail.inReplyTo, MAIL_LIMITS.headerBytes) } : {}),
    // The newest references matter for threading: keep the last ones.
    references: references
      .slice(-MAIL_LIMITS.references)
      .map((id) => bounded('references', id, MAIL_LIMITS.headerBytes)),
    ...(mail.text ? { text: bounded('text', mail.text, MAIL_LIMITS.textBytes) } : {}),
    receivedAt: location.receivedAt,
    ...hint('autoSubmitted', 'auto-submitted'),
    ...hint('precedence', 'precedence'),
  };
  if (references.length > MAIL_LIMITS.references) truncated.add('references');
  if (truncated.size > 0) detail.truncated = [...truncated].sort();
  return detail;
}

/** Who a message is delivered to: the tenant, its mailbox, and what SES and the mailbox's policy said. */
export type MessageDelivery = Pick<
  EmailReceivedV2Detail,
  'tenantId' | 'sesMessageId' | 'recipient' | 'mailbox' | 'verdicts' | 'flagged' | 'envelopeFrom'
>;

/** `email.received` (schema version 2) of one message for one tenant. */
export function emailReceivedEvent(message: MessageDescription, delivery: MessageDelivery): CatalogEvent {
  const truncated = new Set(message.truncated ?? []);
  // Envelope addresses are bounded by SMTP (256 bytes); one longer is left out, never cut into another address.
  const fits = (a: string) => jsonStringBytes(a) <= MAIL_LIMITS.addressBytes;
  const envelopeFrom = fits(delivery.envelopeFrom) ? delivery.envelopeFrom : '';
  if (envelopeFrom !== delivery.envelopeFrom) truncated.add('envelopeFrom');
  const { truncated: _t, ...described } = message;
  const detail: EmailReceivedV2Detail = {
    schemaVersion: 2,
    ...described,
    ...delivery,
    envelopeFrom,
    ...(truncated.size > 0 ? { truncated: [...truncated].sort() } : {}),
  };
  return checked(catalogEvent('email.received', detail));
}

/** The limits keep the entry near 100 KB at most; checked, so a change of limits cannot break publishing. */
function checked(event: CatalogEvent): CatalogEvent {
  const size = entrySize({ Source: event.source, DetailType: event.detailType, Detail: JSON.stringify(event.detail) });
  if (size > EVENT_BUDGET_BYTES) throw new Error(`email.received is ${size} bytes, over the event budget`);
  return event;
}

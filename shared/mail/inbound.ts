import PostalMime from 'postal-mime';
import { type CatalogEvent, catalogEvent } from '../../events/catalog.ts';

/** Longest body text carried on the event; consumers fetch the raw message from S3 for the rest. */
const MAX_TEXT = 32 * 1024;

const splitIds = (value: string | undefined) => (value ? value.split(/\s+/).filter(Boolean) : []);

/** Parses a raw MIME message that SES stored and describes it as an `email.received` event. */
export async function emailReceivedEvent(
  raw: Uint8Array | string,
  location: { bucket: string; key: string; messageId: string; receivedAt: string },
): Promise<CatalogEvent> {
  const mail = await PostalMime.parse(raw);
  const addresses = (list: typeof mail.to) =>
    (list ?? [])
      .flatMap((a) => ('group' in a && a.group ? a.group.map((g) => g.address) : [a.address]))
      .filter((a): a is string => Boolean(a));
  return catalogEvent('email.received', {
    schemaVersion: 1,
    messageId: mail.messageId ?? location.messageId,
    s3: { bucket: location.bucket, key: location.key },
    from: { address: mail.from?.address ?? '', ...(mail.from?.name ? { name: mail.from.name } : {}) },
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    subject: mail.subject ?? '',
    ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo } : {}),
    references: splitIds(mail.references),
    ...(mail.text ? { text: mail.text.slice(0, MAX_TEXT) } : {}),
    receivedAt: location.receivedAt,
  });
}

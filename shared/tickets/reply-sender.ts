import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { model } from '../db/store.ts';
import { logger } from '../observability.ts';
import { messageIdKey } from './mail-headers.ts';
import { buildRawMail } from './mime.ts';
import type { MessageEmailFields } from './service.ts';

/** SES takes at most 10 MB per raw message (after base64): attachments beyond this budget are left out. */
const MAX_ATTACHMENT_BYTES_OUT = 7 * 1024 * 1024;

interface StoredReply extends MessageEmailFields {
  tenantId: string;
  ticketId: string;
  messageId: string;
  version: number;
  authorType: string;
  visibility: string;
  bodyText?: string;
  bodyHtml?: string;
  attachmentIds?: string[];
}

export type SendOutcome = 'sent' | 'failed' | 'not-queued';

async function readReply(tenantId: string, ticketId: string, messageId: string) {
  const { data } = await model.entities.ticketMessage.get({ tenantId, ticketId, messageId }).go({ consistent: true });
  return (data as unknown as StoredReply | null) ?? undefined;
}

/** Moves the delivery on, conditioned on the version read: of two deliveries of one event, one claim wins. */
async function setDelivery(reply: StoredReply, delivery: NonNullable<StoredReply['delivery']>, version: number) {
  const key = { tenantId: reply.tenantId, ticketId: reply.ticketId, messageId: reply.messageId };
  const result = await model.entities.ticketMessage
    .patch(key)
    .set({ delivery, version: version + 1, updatedAt: new Date().toISOString() } as never)
    .where((attr, op) => op.eq(attr.version, version))
    .go({ response: 'none' })
    .then(
      () => true,
      (error: { cause?: { name?: string }; message?: string }) => {
        if (error.cause?.name === 'ConditionalCheckFailedException' || /conditional/i.test(error.message ?? '')) {
          return false;
        }
        throw error;
      },
    );
  return result;
}

/** SES answers that mean the message will never be accepted as it is (vs. throttling or an outage: retried). */
const PERMANENT = new Set([
  'MessageRejected',
  'BadRequestException',
  'MailFromDomainNotVerifiedException',
  'NotFoundException',
  'AccountSuspendedException',
  'SendingPausedException',
]);

/**
 * Sends a queued reply once. The send is claimed first (queued → sending, a write conditioned on the version read),
 * so a redelivered or retried event finds it claimed and sends nothing; then SES SendEmail with Raw content (our
 * Message-ID, In-Reply-To, References, Reply-To), then `sent` with SES's message id. SES puts its own Message-ID on
 * what it sends, so SES's id is also recorded as a `ticket.emailMessageId` lookup: the customer's reply to it
 * threads. A permanent refusal records `failed`; a transient error releases the claim and throws, for a retry.
 */
export async function sendQueuedReply(
  deps: { ses: SESv2Client; s3: S3Client; attachmentsBucket: string },
  key: { tenantId: string; ticketId: string; messageId: string },
): Promise<SendOutcome> {
  const reply = await readReply(key.tenantId, key.ticketId, key.messageId);
  if (reply?.delivery?.status !== 'queued' || !reply.emailMessageId || !reply.from || !reply.to?.length) {
    return 'not-queued';
  }
  if (!(await setDelivery(reply, { status: 'sending' }, reply.version))) return 'not-queued';
  const claimed = reply.version + 1;

  const attachments: Array<{ fileName: string; contentType: string; content: Uint8Array }> = [];
  let budget = MAX_ATTACHMENT_BYTES_OUT;
  for (const attachmentId of reply.attachmentIds ?? []) {
    const { data } = await model.entities.ticketAttachment
      .get({ tenantId: reply.tenantId, ticketId: reply.ticketId, attachmentId })
      .go();
    if (!data || data.size > budget) continue;
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.attachmentsBucket, Key: data.objectKey }));
    const content = await object.Body!.transformToByteArray();
    budget -= content.byteLength;
    attachments.push({ fileName: data.fileName, contentType: data.contentType, content });
  }
  const raw = buildRawMail({
    from: reply.from,
    to: reply.to,
    cc: reply.cc,
    replyTo: reply.replyTo,
    subject: reply.subject ?? '',
    messageId: reply.emailMessageId,
    inReplyTo: reply.inReplyTo,
    references: reply.references,
    date: new Date(),
    text: reply.bodyText ?? '',
    html: reply.bodyHtml,
    attachments,
  });

  let sesMessageId: string | undefined;
  try {
    const sent = await deps.ses.send(
      new SendEmailCommand({
        FromEmailAddress: reply.from.address,
        Destination: { ToAddresses: reply.to, ...(reply.cc?.length ? { CcAddresses: reply.cc } : {}) },
        Content: { Raw: { Data: raw } },
      }),
    );
    sesMessageId = sent.MessageId;
  } catch (error) {
    const name = (error as { name?: string }).name ?? 'Error';
    if (PERMANENT.has(name)) {
      await setDelivery(reply, { status: 'failed', error: name } as never, claimed);
      logger.warn('reply refused by SES', { ...key, error: name });
      return 'failed';
    }
    // SES did not take it: give the claim back so the retry of this event sends it.
    await setDelivery(reply, { status: 'queued' }, claimed);
    throw error;
  }
  const sesKey = sesMessageId ? messageIdKey(`<${sesMessageId}@email.amazonses.com>`) : undefined;
  if (sesKey) {
    await model.entities.lookup
      .put({
        tenantId: reply.tenantId,
        kind: 'ticket.emailMessageId',
        value: sesKey,
        targetId: reply.ticketId,
        summary: { ticketId: reply.ticketId, messageId: reply.messageId },
      })
      .go();
  }
  await setDelivery(
    reply,
    { status: 'sent', ...(sesMessageId ? { sesMessageId } : {}), sentAt: new Date().toISOString() },
    claimed,
  );
  return 'sent';
}

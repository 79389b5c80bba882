import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SESEvent } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import { emailReceivedEvent } from '../../shared/mail/inbound.ts';
import { logger } from '../../shared/observability.ts';

const config = readConfig(
  z.object({ EVENT_BUS_NAME: z.string().min(1), INBOUND_BUCKET: z.string().min(1), INBOUND_PREFIX: z.string() }),
);
const s3 = new S3Client({});
const eventBridge = new EventBridgeClient({});

/**
 * SES receipt rule action: the raw message is already in S3 (the rule's S3 action runs first). Parse it and put
 * `email.received` on the bus, where ticketing and timeline consumers pick it up.
 */
export async function handler(event: SESEvent): Promise<void> {
  for (const record of event.Records) {
    const { messageId, timestamp } = record.ses.mail;
    const key = `${config.INBOUND_PREFIX}${messageId}`;
    const object = await s3.send(new GetObjectCommand({ Bucket: config.INBOUND_BUCKET, Key: key }));
    const raw = await object.Body!.transformToByteArray();
    const mailEvent = await emailReceivedEvent(raw, {
      bucket: config.INBOUND_BUCKET,
      key,
      messageId,
      receivedAt: new Date(timestamp).toISOString(),
    });
    const result = await eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: config.EVENT_BUS_NAME,
            Source: mailEvent.source,
            DetailType: mailEvent.detailType,
            Detail: JSON.stringify(mailEvent.detail),
          },
        ],
      }),
    );
    if (result.FailedEntryCount) throw new Error(`bus rejected email.received: ${JSON.stringify(result.Entries)}`);
    logger.info('inbound email published', { messageId });
  }
}

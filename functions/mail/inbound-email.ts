import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { SESEvent } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import { toEntry } from '../../shared/events/bounds.ts';
import { emailReceivedEvent } from '../../shared/mail/inbound.ts';
import { logger, metrics } from '../../shared/observability.ts';

const configSchema = z.object({
  EVENT_BUS_NAME: z.string().min(1),
  INBOUND_BUCKET: z.string().min(1),
  INBOUND_PREFIX: z.string(),
});
let config: z.infer<typeof configSchema> | undefined;
const configured = () => (config ??= readConfig(configSchema));

const s3 = new S3Client({});
const eventBridge = new EventBridgeClient({});

/**
 * SES receipt rule action: the raw message is already in S3 (the rule's S3 action runs first). Parse it and put
 * a bounded `email.received` on the bus (the raw message stays in S3), where ticketing and timeline consumers pick
 * it up.
 */
async function receive(event: SESEvent): Promise<void> {
  const { EVENT_BUS_NAME, INBOUND_BUCKET, INBOUND_PREFIX } = configured();
  for (const record of event.Records) {
    const { messageId, timestamp, source } = record.ses.mail;
    const key = `${INBOUND_PREFIX}${messageId}`;
    const object = await s3.send(new GetObjectCommand({ Bucket: INBOUND_BUCKET, Key: key }));
    const raw = await object.Body!.transformToByteArray();
    const mailEvent = await emailReceivedEvent(raw, {
      bucket: INBOUND_BUCKET,
      key,
      messageId,
      receivedAt: new Date(timestamp).toISOString(),
      envelope: { from: source, to: record.ses.receipt.recipients },
    });
    const result = await eventBridge.send(new PutEventsCommand({ Entries: [toEntry(mailEvent, EVENT_BUS_NAME)] }));
    if (result.FailedEntryCount) throw new Error(`bus rejected email.received: ${JSON.stringify(result.Entries)}`);
    const { truncated, unparsed } = mailEvent.detail as { truncated?: string[]; unparsed?: true };
    logger.info('inbound email published', {
      messageId,
      ...(truncated ? { truncated } : {}),
      ...(unparsed ? { unparsed } : {}),
    });
    metrics.addMetric('InboundEmailsPublished', MetricUnit.Count, 1);
    if (truncated || unparsed) metrics.addMetric('InboundEmailsBounded', MetricUnit.Count, 1);
  }
}

export const handler = middy(receive).use(injectLambdaContext(logger)).use(logMetrics(metrics));

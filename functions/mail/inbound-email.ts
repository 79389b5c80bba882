import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { SESEvent, SESEventRecord } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import { toEntry } from '../../shared/events/bounds.ts';
import { describeMessage, emailReceivedEvent, type MessageDescription } from '../../shared/mail/inbound.ts';
import { decideVerdicts, routeRecipients, type Verdicts, verdictStatus } from '../../shared/mail/routing.ts';
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

const verdictsOf = ({ receipt }: SESEventRecord['ses']): Verdicts => ({
  spam: verdictStatus(receipt.spamVerdict?.status),
  virus: verdictStatus(receipt.virusVerdict?.status),
  spf: verdictStatus(receipt.spfVerdict?.status),
  dkim: verdictStatus(receipt.dkimVerdict?.status),
  dmarc: verdictStatus(receipt.dmarcVerdict?.status),
});

/**
 * SES receipt rule action: the raw message is already in S3 (the rule's S3 action runs first). The SES envelope
 * recipients name the tenants (through their mailboxes' address claims); each tenant's mailbox policy decides on the
 * verdicts; each tenant that takes the message gets one bounded `email.received` (v2) on the bus. Mail for an
 * address no mailbox owns, and rejected mail, publish nothing: they are logged and counted (alarmed in CDK).
 */
async function receive(event: SESEvent): Promise<void> {
  const { EVENT_BUS_NAME, INBOUND_BUCKET, INBOUND_PREFIX } = configured();
  for (const record of event.Records) {
    const { messageId, timestamp, source } = record.ses.mail;
    const { recipients } = record.ses.receipt;
    const verdicts = verdictsOf(record.ses);
    const { tenants, unroutable } = await routeRecipients(recipients);
    if (unroutable.length > 0) {
      logger.warn('inbound email for addresses no mailbox owns dropped', { messageId, recipients: unroutable });
      metrics.addMetric('InboundEmailsUnroutable', MetricUnit.Count, unroutable.length);
    }

    const key = `${INBOUND_PREFIX}${messageId}`;
    let message: MessageDescription | undefined;
    for (const { tenantId, recipient, mailbox } of tenants) {
      const decision = decideVerdicts(mailbox.verdictPolicy, verdicts);
      if (decision.action === 'reject') {
        logger.info('inbound email rejected by verdict', { messageId, tenantId, verdicts: decision.verdicts });
        metrics.addMetric('InboundEmailsRejected', MetricUnit.Count, 1);
        for (const verdict of decision.verdicts) {
          const perVerdict = metrics.singleMetric();
          perVerdict.addDimension('Verdict', verdict);
          perVerdict.addMetric('InboundEmailsRejected', MetricUnit.Count, 1);
        }
        continue;
      }
      // Read and parsed once, for the first tenant that takes it.
      if (!message) {
        const object = await s3.send(new GetObjectCommand({ Bucket: INBOUND_BUCKET, Key: key }));
        const raw = await object.Body!.transformToByteArray();
        message = await describeMessage(raw, {
          bucket: INBOUND_BUCKET,
          key,
          messageId,
          receivedAt: new Date(timestamp).toISOString(),
          envelope: { from: source, to: recipients },
        });
      }
      const mailEvent = emailReceivedEvent(message, {
        tenantId,
        sesMessageId: messageId,
        recipient,
        mailbox: {
          id: mailbox.mailboxId,
          address: mailbox.address,
          ...(mailbox.teamId ? { teamId: mailbox.teamId } : {}),
          defaultPriority: mailbox.defaultPriority,
        },
        verdicts,
        flagged: decision.flagged,
        envelopeFrom: source === '<>' ? '' : source,
      });
      // One entry per request: each event may be near the entry budget. A retry after a failure here publishes the
      // earlier tenants' events again, with the same sesMessageId, which their consumers de-duplicate on.
      const result = await eventBridge.send(new PutEventsCommand({ Entries: [toEntry(mailEvent, EVENT_BUS_NAME)] }));
      if (result.FailedEntryCount) throw new Error(`bus rejected email.received: ${JSON.stringify(result.Entries)}`);
      const { truncated, unparsed } = mailEvent.detail as { truncated?: string[]; unparsed?: true };
      logger.info('inbound email published', {
        messageId,
        tenantId,
        mailboxId: mailbox.mailboxId,
        ...(decision.flagged.length > 0 ? { flagged: decision.flagged } : {}),
        ...(truncated ? { truncated } : {}),
        ...(unparsed ? { unparsed } : {}),
      });
      metrics.addMetric('InboundEmailsPublished', MetricUnit.Count, 1);
      if (decision.flagged.length > 0) metrics.addMetric('InboundEmailsFlagged', MetricUnit.Count, 1);
      if (truncated || unparsed) metrics.addMetric('InboundEmailsBounded', MetricUnit.Count, 1);
    }
  }
}

export const handler = middy(receive).use(injectLambdaContext(logger)).use(logMetrics(metrics));

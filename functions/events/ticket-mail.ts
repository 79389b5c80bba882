import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { EmailReceived } from '../../events/catalog.ts';
import { readConfig } from '../../shared/config.ts';
import { runAsTenant } from '../../shared/db/tenant-context.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { ticketFromMail } from '../../shared/tickets/mail.ts';

const configSchema = z.object({ INBOUND_BUCKET: z.string().min(1), INBOUND_PREFIX: z.string() });
let config: z.infer<typeof configSchema> | undefined;
const configured = () => (config ??= readConfig(configSchema));

const s3 = new S3Client({});

/**
 * EventBridge target of `email.received`: the mail becomes a ticket, or a customer message on the ticket it
 * threads to (shared/tickets/mail.ts); auto-replies, bounces and our own mail are dropped. Idempotent per SES
 * message id. Version 1 events (archived, before mailboxes) name no tenant and are skipped.
 */
async function onMail(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const detail = EmailReceived.parse(event.detail);
  if (detail.schemaVersion !== 2) {
    logger.info('email.received v1 has no tenant: skipped');
    metrics.addMetric('MailWithoutTenant', MetricUnit.Count, 1);
    return;
  }
  logger.appendKeys({ tenantId: detail.tenantId, sesMessageId: detail.sesMessageId, mailboxId: detail.mailbox.id });
  const { INBOUND_BUCKET, INBOUND_PREFIX } = configured();
  const outcome = await runAsTenant(detail.tenantId, () =>
    ticketFromMail({ s3, inboundBucket: INBOUND_BUCKET, inboundPrefix: INBOUND_PREFIX }, detail),
  );
  logger.info('mail taken', { outcome });
  const metric = {
    ticket: 'MailTicketsOpened',
    reply: 'MailRepliesThreaded',
    duplicate: 'MailDuplicatesSkipped',
    ignored: 'MailAutomaticIgnored',
  }[outcome.kind];
  metrics.addMetric(metric, MetricUnit.Count, 1);
}

export const handler = middy(onMail)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

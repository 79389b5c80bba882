import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { TicketMessageAdded } from '../../events/catalog.ts';
import { readConfig } from '../../shared/config.ts';
import { type ClaimCheckStore, resolveClaimChecks } from '../../shared/events/claim-check.ts';
import { s3ClaimCheckStore } from '../../shared/events/s3-store.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { sendQueuedReply } from '../../shared/tickets/reply-sender.ts';

const configSchema = z.object({ CLAIM_CHECK_BUCKET: z.string().min(1), ATTACHMENTS_BUCKET: z.string().min(1) });
let config: z.infer<typeof configSchema> | undefined;
const configured = () => (config ??= readConfig(configSchema));

const s3 = new S3Client({});
const ses = new SESv2Client({ maxAttempts: 3 });
let store: ClaimCheckStore | undefined;
const claimChecks = () => (store ??= s3ClaimCheckStore(s3, configured().CLAIM_CHECK_BUCKET));

/**
 * EventBridge target of `ticket.message_added` for queued email replies (events only from the stream): sends the
 * reply through SES once (shared/tickets/reply-sender.ts claims it with a conditional write first) and records it
 * sent. A large record arrives as a claim check and is read back.
 */
async function onReply(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const detail = TicketMessageAdded.parse(event.detail);
  logger.appendKeys({ tenantId: detail.tenantId, messageId: detail.entityId });
  const complete = await resolveClaimChecks(claimChecks(), detail, { record: true });
  const record = complete.record as { ticketId?: string; delivery?: { status?: string } };
  if (record.delivery?.status !== 'queued' || !record.ticketId) return;
  const outcome = await sendQueuedReply(
    { ses, s3, attachmentsBucket: configured().ATTACHMENTS_BUCKET },
    { tenantId: detail.tenantId, ticketId: record.ticketId, messageId: detail.entityId },
  );
  logger.info('reply delivery', { outcome });
  metrics.addMetric(
    outcome === 'sent' ? 'RepliesSent' : outcome === 'failed' ? 'RepliesFailed' : 'RepliesAlreadyClaimed',
    MetricUnit.Count,
    1,
  );
}

export const handler = middy(onReply)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

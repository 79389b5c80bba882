import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { logger, metrics } from '../../shared/observability.ts';
import { applySesEvent } from '../../shared/tracking/apply.ts';
import { parseSesEvent, SesEventError } from '../../shared/tracking/ses-events.ts';

/** Metric per outcome (see shared/tracking/apply.ts). */
const METRIC = {
  untracked: 'EmailEventsUntracked',
  unknown_recipient: 'EmailEventsUnknownRecipient',
  applied: 'EmailEventsApplied',
  repeat: 'EmailEventsRepeated',
  ignored: 'EmailEventsIgnored',
} as const;

/**
 * EventBridge target on the default bus: SES sending events of the marketing configuration set (send, delivery,
 * bounce, complaint, open, click, reject) applied once to the campaign's ledger, counters, the contact's timeline
 * and engagement, and the tenant's suppression list. An event not shaped as SES sends it is logged and dropped
 * (retrying cannot fix it); a failed write throws, so Lambda and EventBridge retry it.
 */
async function trackEmailEvent(event: EventBridgeEvent<string, unknown>): Promise<void> {
  let parsed: ReturnType<typeof parseSesEvent>;
  try {
    parsed = parseSesEvent(event);
  } catch (error) {
    if (!(error instanceof SesEventError)) throw error;
    logger.error('malformed SES event dropped', { detailType: event['detail-type'], reason: error.message });
    metrics.addMetric('EmailEventsMalformed', MetricUnit.Count, 1);
    return;
  }
  logger.appendKeys({ sesMessageId: parsed.mail.messageId, eventKind: parsed.kind });
  const result = await applySesEvent(parsed);
  if (result.message) logger.appendKeys({ tenantId: result.message.tenantId, campaignId: result.message.campaignId });
  if (result.outcome === 'unknown_recipient' || result.outcome === 'ignored') {
    logger.warn(`SES ${parsed.kind} event ${result.outcome}`);
  }
  metrics.addMetric(METRIC[result.outcome], MetricUnit.Count, 1);
  if (result.suppressed) metrics.addMetric('EmailAddressesSuppressed', MetricUnit.Count, 1);
}

export const handler = middy(trackEmailEvent)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

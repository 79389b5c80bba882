import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { ContactChanged, DealStageChanged, EmailReceived } from '../../events/catalog.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { onContactChange, onDealWon, onReply } from '../../shared/sequences/triggers.ts';

/** The events that end enrolments early (see shared/sequences/triggers.ts). */
export const SEQUENCE_EXIT_EVENTS = ['email.received', 'contact.updated', 'deal.won'] as const;

/**
 * Sequence exits: a reply (`email.received` from the contact's address; automatic replies do not count), an
 * unsubscribe or a conversion (`contact.updated`), a won deal (`deal.won`). Each exit is one conditional update of
 * an active enrolment, so a redelivered event exits nothing twice; the workflow ends at its next step.
 */
async function onEvent(event: EventBridgeEvent<string, unknown>): Promise<void> {
  let exited = 0;
  switch (event['detail-type']) {
    case 'email.received': {
      const mail = EmailReceived.parse(event.detail);
      if (mail.schemaVersion !== 2) return;
      if (mail.autoSubmitted && mail.autoSubmitted.toLowerCase() !== 'no') return;
      logger.appendKeys({ tenantId: mail.tenantId });
      exited = await onReply(mail.tenantId, mail.from.address, mail.receivedAt);
      break;
    }
    case 'contact.updated': {
      const change = ContactChanged.parse(event.detail);
      logger.appendKeys({ tenantId: change.tenantId, contactId: change.entityId });
      const changed = 'changes' in change ? Object.keys(change.changes) : change.changedFields;
      exited = await onContactChange(change.tenantId, change.entityId, changed);
      break;
    }
    case 'deal.won': {
      const deal = DealStageChanged.parse(event.detail);
      logger.appendKeys({ tenantId: deal.tenantId, dealId: deal.dealId });
      exited = await onDealWon(deal.tenantId, deal.contactIds);
      break;
    }
    default:
      return;
  }
  if (exited > 0) metrics.addMetric('SequenceEnrollmentsExited', MetricUnit.Count, exited);
}

export const handler = middy(onEvent)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { EmailEngagement } from '../../events/catalog.ts';
import { lazyConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { applySweepSchedule, reconcileContact } from '../../shared/segments/consumer.ts';

const config = lazyConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    SWEEP_SCHEDULE_GROUP: z.string().min(1),
    SWEEP_STATE_MACHINE_ARN: z.string().min(1),
    SWEEP_ROLE_ARN: z.string().min(1),
  }),
);
const scheduler = new SchedulerClient({ maxAttempts: 5 });

/** Every variant of a record change (inline, or its whole detail claim-checked) names these; nothing else is read. */
const RecordChange = z.object({ tenantId: z.string().min(1), entityId: z.string().min(1), version: z.number() });

/**
 * EventBridge target of contact changes, email opens and clicks, and segment changes. A contact's (or an engaged
 * contact's) memberships of every dynamic segment are brought in line with the contact as it is now; a segment's
 * change keeps its hourly sweep schedule in step. Only ids are taken from the event: everything is read afresh, so
 * redelivered and reordered events converge.
 */
async function consume(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const type = event['detail-type'];
  if (type.startsWith('segment.')) {
    const change = RecordChange.parse(event.detail);
    logger.appendKeys({ tenantId: change.tenantId, segmentId: change.entityId });
    const { SWEEP_SCHEDULE_GROUP, SWEEP_STATE_MACHINE_ARN, SWEEP_ROLE_ARN } = config();
    const outcome = await applySweepSchedule(
      { scheduler, groupName: SWEEP_SCHEDULE_GROUP, targetArn: SWEEP_STATE_MACHINE_ARN, roleArn: SWEEP_ROLE_ARN },
      change.tenantId,
      change.entityId,
    );
    logger.info('sweep schedule in step', { outcome });
    return;
  }
  const engagement = type === 'email.opened' || type === 'email.clicked';
  const { tenantId, contactId } = engagement
    ? EmailEngagement.parse(event.detail)
    : (({ tenantId, entityId }) => ({ tenantId, contactId: entityId }))(RecordChange.parse(event.detail));
  logger.appendKeys({ tenantId, contactId, type });
  const result = await reconcileContact(tenantId, contactId, { engagementOnly: engagement });
  if (result.added) metrics.addMetric('SegmentMembersAdded', MetricUnit.Count, result.added);
  if (result.removed) metrics.addMetric('SegmentMembersRemoved', MetricUnit.Count, result.removed);
}

export const handler = middy(consume)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

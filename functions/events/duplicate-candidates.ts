import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { CATALOG, type DetailType, type RecordChangedDetail } from '../../events/catalog.ts';
import { refreshCandidates } from '../../shared/duplicates/candidates.ts';
import { logger, metrics } from '../../shared/observability.ts';

/**
 * EventBridge target of every contact and company change: refreshes that record's match keys and candidate pairs
 * (shared/duplicates/candidates.ts) from its current state in the table, so duplicates are found without a Scan and
 * at no cost to the write path. Idempotent; order does not matter.
 */
async function onChange(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const entry = CATALOG[event['detail-type'] as DetailType];
  if (!entry) throw new Error(`no catalog entry for ${event['detail-type']}`);
  const detail = entry.schema.parse(event.detail) as RecordChangedDetail;
  if (detail.entity !== 'contact' && detail.entity !== 'company') return;
  logger.appendKeys({ tenantId: detail.tenantId, entityId: detail.entityId });
  const pairs = await refreshCandidates(detail.tenantId, detail.entity, detail.entityId);
  metrics.addMetric('DuplicateCandidates', MetricUnit.Count, pairs);
}

export const handler = middy(onChange)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { CATALOG, type DetailType, type RecordChangedDetail } from '../../events/catalog.ts';
import { companyKind } from '../../shared/companies/service.ts';
import { contactKind } from '../../shared/contacts/service.ts';
import { moveChildren } from '../../shared/merge/movers.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { readStored } from '../../shared/records/lifecycle.ts';

/**
 * EventBridge target of `contact.merged` and `company.merged`: moves the loser's children to the winner through the
 * movers registry (shared/merge/movers.ts). Where the loser went is read from the table (the record's
 * `mergedInto`, which never changes once set), so a claim-checked detail needs no S3 read; a redelivery moves only
 * what is left.
 */
async function onMerged(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const entry = CATALOG[event['detail-type'] as DetailType];
  if (!entry || !event['detail-type'].endsWith('.merged')) throw new Error(`unexpected ${event['detail-type']}`);
  const detail = entry.schema.parse(event.detail) as RecordChangedDetail;
  const kind = detail.entity === 'company' ? companyKind : contactKind;
  logger.appendKeys({ tenantId: detail.tenantId, entityId: detail.entityId });
  const loser = await readStored(kind, detail.tenantId, detail.entityId);
  if (!loser?.mergedInto) throw new Error(`${kind.entity} ${detail.entityId} is not merged`);
  const type = detail.entity === 'company' ? 'company' : 'contact';
  const counts = await moveChildren(
    detail.tenantId,
    { type, id: detail.entityId },
    { type, id: String(loser.mergedInto) },
  );
  logger.info('merge children moved', { counts, mergedInto: loser.mergedInto });
  for (const [name, moved] of Object.entries(counts)) metrics.addMetric(`MergeMoved_${name}`, MetricUnit.Count, moved);
}

export const handler = middy(onMerged)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

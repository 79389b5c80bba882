import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { CATALOG, type DetailType, type RecordChangedDetail } from '../../events/catalog.ts';
import { recordChange } from '../../shared/audit/record.ts';
import { readConfig } from '../../shared/config.ts';
import type { ClaimCheckStore } from '../../shared/events/claim-check.ts';
import { s3ClaimCheckStore } from '../../shared/events/s3-store.ts';
import { logger, metrics } from '../../shared/observability.ts';

const s3 = new S3Client({});

/** The claim-check store, configured on first use. */
let store: ClaimCheckStore | undefined;
const claimChecks = () =>
  (store ??= s3ClaimCheckStore(s3, readConfig(z.object({ CLAIM_CHECK_BUCKET: z.string().min(1) })).CLAIM_CHECK_BUCKET));

/**
 * EventBridge target: every contact and company change becomes an entry in that record's history, with claim-checked
 * values read back from S3. The detail is parsed with the catalog schema, so a malformed event fails loudly (and
 * goes to the rule's dead-letter queue).
 */
async function audit(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const entry = CATALOG[event['detail-type'] as DetailType];
  if (!entry) throw new Error(`no catalog entry for ${event['detail-type']}`);
  const detail = entry.schema.parse(event.detail) as RecordChangedDetail;
  logger.appendKeys({ tenantId: detail.tenantId, entityId: detail.entityId, version: detail.version });
  await recordChange(claimChecks(), event['detail-type'], detail);
  metrics.addMetric('HistoryEntriesWritten', MetricUnit.Count, 1);
}

export const handler = middy(audit)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { CATALOG, type DetailType, type RecordChangedDetail } from '../../events/catalog.ts';
import { applyLoadDeltas, type LoadAction, loadDeltas } from '../../shared/assignment/load.ts';
import { readConfig } from '../../shared/config.ts';
import { type ClaimCheckStore, resolveClaimChecks } from '../../shared/events/claim-check.ts';
import { s3ClaimCheckStore } from '../../shared/events/s3-store.ts';
import { logger, metrics } from '../../shared/observability.ts';

const s3 = new S3Client({});
let store: ClaimCheckStore | undefined;
const claimChecks = () =>
  (store ??= s3ClaimCheckStore(s3, readConfig(z.object({ CLAIM_CHECK_BUCKET: z.string().min(1) })).CLAIM_CHECK_BUCKET));

/**
 * EventBridge target: keeps users' open loads (what least-loaded assignment and capacities compare) in step with
 * record changes: deletions, restores, reassignments and creates with an owner no rule chose. Exactly once per
 * change (a marker in the same transaction). A large record arrives as a claim check and is read back from S3.
 */
async function adjustLoads(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const entry = CATALOG[event['detail-type'] as DetailType];
  if (!entry) throw new Error(`no catalog entry for ${event['detail-type']}`);
  const detail = entry.schema.parse(event.detail) as RecordChangedDetail;
  logger.appendKeys({ tenantId: detail.tenantId, entityId: detail.entityId, version: detail.version });
  const complete = await resolveClaimChecks(claimChecks(), detail, { record: true });
  const action = event['detail-type'].split('.').pop() as LoadAction;
  const applied = await applyLoadDeltas(complete, loadDeltas(action, complete));
  metrics.addMetric(applied ? 'AssignmentLoadChangesApplied' : 'AssignmentLoadChangesRepeated', MetricUnit.Count, 1);
}

export const handler = middy(adjustLoads)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { syncCampaignSchedule } from '../../shared/campaigns/schedule.ts';
import { readCampaign } from '../../shared/campaigns/service.ts';
import { lazyConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';

const config = lazyConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    CAMPAIGN_SCHEDULE_GROUP: z.string().min(1),
    CAMPAIGN_STATE_MACHINE_ARN: z.string().min(1),
    CAMPAIGN_SCHEDULER_ROLE_ARN: z.string().min(1),
  }),
);
const scheduler = new SchedulerClient({ maxAttempts: 5 });

/** Every variant of a campaign change event (inline, or with its whole detail claim-checked) names these. */
const CampaignChange = z.object({ tenantId: z.string().min(1), entityId: z.string().min(1), version: z.number() });

/**
 * EventBridge target for campaign changes: keeps the campaign's one-time schedule (which starts the send state
 * machine) in step with the campaign as it is now: created or moved when scheduled or resumed, deleted otherwise.
 */
async function sync(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const change = CampaignChange.parse(event.detail);
  logger.appendKeys({ tenantId: change.tenantId, campaignId: change.entityId, version: change.version });
  const { CAMPAIGN_SCHEDULE_GROUP, CAMPAIGN_STATE_MACHINE_ARN, CAMPAIGN_SCHEDULER_ROLE_ARN } = config();
  const outcome = await syncCampaignSchedule(
    {
      scheduler,
      groupName: CAMPAIGN_SCHEDULE_GROUP,
      targetArn: CAMPAIGN_STATE_MACHINE_ARN,
      roleArn: CAMPAIGN_SCHEDULER_ROLE_ARN,
    },
    readCampaign,
    change.tenantId,
    change.entityId,
  );
  logger.info('campaign schedule in step', { outcome });
  if (outcome !== 'unchanged' && outcome !== 'absent') {
    metrics.addMetric(`CampaignSchedules_${outcome}`, MetricUnit.Count, 1);
  }
}

export const handler = middy(sync)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

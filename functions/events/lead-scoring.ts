import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { readConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';
import {
  type RescoreRequest,
  type ScoringTarget,
  scheduleRescore,
  scoringTargets,
} from '../../shared/scoring/consumer.ts';
import { rescoreLead } from '../../shared/scoring/service.ts';

const Rescore = z.strictObject({
  kind: z.literal('lead.rescore'),
  tenantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  leadId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
});

let scheduleConfig: { group: string; roleArn: string } | undefined | null;
function decaySchedules(): { group: string; roleArn: string } | undefined {
  if (scheduleConfig === undefined) {
    const env = readConfig(
      z.object({ SCORE_SCHEDULE_GROUP: z.string().optional(), SCORE_SCHEDULER_ROLE_ARN: z.string().optional() }),
    );
    scheduleConfig =
      env.SCORE_SCHEDULE_GROUP && env.SCORE_SCHEDULER_ROLE_ARN
        ? { group: env.SCORE_SCHEDULE_GROUP, roleArn: env.SCORE_SCHEDULER_ROLE_ARN }
        : null;
  }
  return scheduleConfig ?? undefined;
}

/**
 * Lead scoring: EventBridge delivers lead changes, form submissions and activities; the decay schedule delivers
 * `lead.rescore`. Each affected lead is rescored (never on read) and its next decay point scheduled.
 */
async function score(event: EventBridgeEvent<string, unknown> | RescoreRequest, context: Context): Promise<void> {
  const targets: ScoringTarget[] =
    'kind' in event ? [Rescore.parse(event)] : scoringTargets(event['detail-type'], event.detail);
  for (const target of targets) {
    logger.appendKeys({ tenantId: target.tenantId, leadId: target.leadId });
    const result = await rescoreLead(target.tenantId, target.leadId, target.engagement);
    if (result.written) metrics.addMetric('LeadsScored', MetricUnit.Count, 1);
    const schedules = decaySchedules();
    if (result.nextDecayAt && schedules) {
      await scheduleRescore(target, result.nextDecayAt, { ...schedules, functionArn: context.invokedFunctionArn });
    }
  }
}

export const handler = middy(score)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

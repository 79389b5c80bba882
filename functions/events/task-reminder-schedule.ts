import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { syncReminderSchedule } from '../../shared/activities/reminder-jobs.ts';
import { readActivity } from '../../shared/activities/service.ts';
import { lazyConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';

const config = lazyConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    REMINDER_SCHEDULE_GROUP: z.string().min(1),
    REMINDER_FUNCTION_ARN: z.string().min(1),
    REMINDER_ROLE_ARN: z.string().min(1),
  }),
);
const scheduler = new SchedulerClient({ maxAttempts: 5 });

/** Every variant of an activity change event (inline, or with its whole detail claim-checked) names these. */
const ActivityChange = z.object({ tenantId: z.string().min(1), entityId: z.string().min(1), version: z.number() });

/**
 * EventBridge target for activity changes of tasks: keeps the task's one-time reminder schedule in step (create,
 * move, or delete it), reading the task as it is now so repeated or reordered events converge.
 */
async function sync(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const change = ActivityChange.parse(event.detail);
  logger.appendKeys({ tenantId: change.tenantId, taskId: change.entityId, version: change.version });
  const { REMINDER_SCHEDULE_GROUP, REMINDER_FUNCTION_ARN, REMINDER_ROLE_ARN } = config();
  const outcome = await syncReminderSchedule(
    {
      scheduler,
      groupName: REMINDER_SCHEDULE_GROUP,
      targetArn: REMINDER_FUNCTION_ARN,
      roleArn: REMINDER_ROLE_ARN,
      readTask: readActivity,
    },
    change.tenantId,
    change.entityId,
  );
  logger.info('reminder schedule in step', { outcome });
  if (outcome !== 'unchanged' && outcome !== 'absent')
    metrics.addMetric(`ReminderSchedules_${outcome}`, MetricUnit.Count, 1);
}

export const handler = middy(sync)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

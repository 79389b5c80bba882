import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import * as z from 'zod';
import { sendTaskReminder } from '../../shared/activities/reminder-jobs.ts';
import { markReminded, readActivity } from '../../shared/activities/service.ts';
import { lazyConfig } from '../../shared/config.ts';
import { sendTextEmail } from '../../shared/mail/send-text.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { findUser } from '../../shared/users/directory.ts';

const config = lazyConfig(z.object({ TABLE_NAME: z.string().min(1), SENDER_EMAIL: z.email() }));
const ses = new SESv2Client({ maxAttempts: 3 });

/** What the schedule passes (shared/activities/reminders.ts, ReminderInput). */
const ReminderInput = z.object({
  tenantId: z.string().min(1),
  taskId: z.string().min(1),
  dueAt: z.string().min(1),
  remindAt: z.string().min(1),
});

/**
 * Invoked by a task's one-time EventBridge Scheduler schedule. Mails the assignee through SES if the task is still
 * open and due when the schedule said, then records `remindedAt` (published from the stream as `task.due`).
 */
async function remind(event: unknown): Promise<void> {
  const input = ReminderInput.parse(event);
  logger.appendKeys({ tenantId: input.tenantId, taskId: input.taskId });
  const outcome = await sendTaskReminder(
    {
      readTask: readActivity,
      findUser,
      markReminded,
      sendEmail: (mail) => sendTextEmail(ses, config().SENDER_EMAIL, mail),
    },
    input,
  );
  if (outcome.sent) {
    logger.info('reminder sent');
    metrics.addMetric('RemindersSent', MetricUnit.Count, 1);
  } else {
    // A user without a profile has nowhere to be mailed: said in the log and counted, never silently dropped.
    const log = outcome.reason === 'no_profile' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('reminder skipped', { reason: outcome.reason });
    metrics.addMetric(
      outcome.reason === 'no_profile' ? 'RemindersWithoutProfile' : 'RemindersSkipped',
      MetricUnit.Count,
      1,
    );
  }
}

export const handler = middy(remind)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import middy from '@middy/core';
import * as z from 'zod';
import { lazyConfig } from '../../shared/config.ts';
import { sendTextEmail } from '../../shared/mail/send-text.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { handleSlaTimer } from '../../shared/tickets/sla.ts';

const config = lazyConfig(z.object({ TABLE_NAME: z.string().min(1), SENDER_EMAIL: z.email() }));
const ses = new SESv2Client({ maxAttempts: 3 });

/** What the schedule passes (shared/tickets/sla.ts, SlaTimerInput); only the ticket matters, the rest is logged. */
const TimerInput = z.object({
  kind: z.literal('ticket.sla_timer'),
  tenantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  ticketId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  target: z.string().optional(),
  timer: z.string().optional(),
  at: z.string().optional(),
});

/**
 * Invoked by a ticket's one-time SLA schedule: re-reads the ticket and handles the warnings and breaches due now
 * (mail, outcome, escalation), then the stream and the SLA consumer schedule the next timer.
 */
async function fire(event: unknown): Promise<void> {
  const input = TimerInput.parse(event);
  logger.appendKeys({ tenantId: input.tenantId, ticketId: input.ticketId, timer: `${input.target}.${input.timer}` });
  const result = await handleSlaTimer({ sendEmail: (mail) => sendTextEmail(ses, config().SENDER_EMAIL, mail) }, input);
  logger.info(result.handled.length > 0 ? 'SLA timer handled' : 'SLA timer stale', { ...result });
  for (const key of result.handled) {
    metrics.addMetric(key.endsWith('.breach') ? 'SlaBreaches' : 'SlaWarnings', MetricUnit.Count, 1);
  }
}

export const handler = middy(fire)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { lazyConfig } from '../../shared/config.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { slaTicketOf, syncTicketSla } from '../../shared/tickets/sla.ts';

const config = lazyConfig(
  z.object({
    TABLE_NAME: z.string().min(1),
    SLA_SCHEDULE_GROUP: z.string().min(1),
    SLA_TIMER_FUNCTION_ARN: z.string().min(1),
    SLA_SCHEDULER_ROLE_ARN: z.string().min(1),
  }),
);
const scheduler = new SchedulerClient({ maxAttempts: 5 });

/**
 * EventBridge target for ticket changes: recomputes the ticket's SLA (due times, targets met) and keeps its one
 * timer schedule in step. Its own echo (a change of only `sla`) is ignored: the loop guard.
 */
async function sync(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const ticket = slaTicketOf(event['detail-type'], event.detail);
  if (!ticket) return;
  logger.appendKeys({ tenantId: ticket.tenantId, ticketId: ticket.ticketId });
  const { SLA_SCHEDULE_GROUP, SLA_TIMER_FUNCTION_ARN, SLA_SCHEDULER_ROLE_ARN } = config();
  const result = await syncTicketSla(
    {
      schedules: {
        scheduler,
        groupName: SLA_SCHEDULE_GROUP,
        targetArn: SLA_TIMER_FUNCTION_ARN,
        roleArn: SLA_SCHEDULER_ROLE_ARN,
      },
    },
    ticket.tenantId,
    ticket.ticketId,
  );
  logger.info('ticket SLA in step', { ...result });
  if (result.written) metrics.addMetric('TicketSlaWritten', MetricUnit.Count, 1);
}

export const handler = middy(sync)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

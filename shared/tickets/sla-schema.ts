import * as z from 'zod';
import { Timestamp } from '../api/common-schemas.ts';
import { SLA_PRIORITIES } from '../sla/schema.ts';

/** Where one SLA target of a ticket stands (as of the workflow's last look: it acts at each warn and due time). */
const SlaTargetStatus = z
  .object({
    state: z.enum(['running', 'warning', 'breached', 'achieved', 'paused']).meta({
      description:
        'running; warning (past its warn time); breached (missed, whether or not met since); achieved (met in ' +
        'time); paused (the ticket waits on the customer and the target has no due time until it stops).',
    }),
    warnedAt: Timestamp.optional().meta({ description: 'When the warning mail went out.' }),
    breachedAt: Timestamp.optional().meta({ description: 'When the breach was handled (escalated).' }),
    outcome: z
      .enum(['achieved', 'breached'])
      .optional()
      .meta({ description: 'The outcome recorded for reports (GET /v1/sla/outcomes); the first one stands.' }),
  })
  .meta({ id: 'TicketSlaTarget' });

export const TicketSla = z
  .object({
    policyId: z.string().meta({ description: 'The policy the due times come from (the default one if none named).' }),
    priority: z.enum(SLA_PRIORITIES).meta({
      description:
        "The priority the targets are counted for (the ticket's, or the one before an escalation raised it).",
    }),
    firstResponseDueAt: Timestamp.nullable().meta({ description: 'null while paused before the target is reached.' }),
    firstResponseWarnAt: Timestamp.nullable(),
    resolutionDueAt: Timestamp.nullable(),
    resolutionWarnAt: Timestamp.nullable(),
    paused: z.boolean().meta({ description: 'The clock is stopped: the ticket waits on the customer (pending).' }),
    firstResponse: SlaTargetStatus,
    resolution: SlaTargetStatus,
    escalatedPriority: z
      .enum(SLA_PRIORITIES)
      .optional()
      .meta({ description: 'The priority an escalation raised the ticket to.' }),
    computedAt: Timestamp,
  })
  .meta({ id: 'TicketSla', description: "The ticket's SLA: due times and each target's state." });
export type TicketSlaView = z.infer<typeof TicketSla>;

export const TicketSlaPauses = z
  .object({
    spans: z.array(z.object({ from: Timestamp, to: Timestamp.optional() })).meta({
      description: 'The most recent spans the ticket waited on the customer (pending); the last may be open.',
    }),
    folded: z
      .object({ count: z.number().int(), until: Timestamp, businessMillis: z.number() })
      .optional()
      .meta({ description: 'Older spans, folded into the business time they covered.' }),
  })
  .meta({ id: 'TicketSlaPauses' });

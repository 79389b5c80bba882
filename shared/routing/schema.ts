import * as z from 'zod';
import { Audit, Id } from '../api/common-schemas.ts';
import { TICKET_CHANNELS, TICKET_PRIORITIES } from '../db/entities/ticket.ts';

export const ROUTING_METHODS = ['roundRobin', 'leastBusy'] as const;
export type RoutingMethod = (typeof ROUTING_METHODS)[number];
export const MAX_ROUTING_RULES = 100;
/** The custom field of companies that `companyTiers` compares (declare it at /v1/custom-fields/company). */
export const COMPANY_TIER_FIELD = 'tier';

const RuleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'Use lower-case letters, digits and "-" (at most 64), e.g. "vip-billing".')
  .meta({ description: 'Chosen by you and kept across edits; tickets record the id of the rule that routed them.' });

const list = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z.array(item).min(1, `Give at least one ${what} or leave the condition out.`).max(max, `At most ${max} ${what}s.`);

const Domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'A domain such as "example.com".');

export const RoutingConditions = z
  .strictObject({
    channels: list(z.enum(TICKET_CHANNELS), TICKET_CHANNELS.length, 'channel'),
    mailboxIds: list(Id, 50, 'mailbox id').meta({ description: 'The support mailbox the ticket came in through.' }),
    senderDomains: list(Domain, 200, 'sender domain').meta({
      description: 'The domain of any of the requester’s email addresses; "example.com" also matches "eu.example.com".',
    }),
    keywords: list(z.string().trim().min(1).max(100), 100, 'keyword').meta({
      description:
        'Words or phrases in the subject or description, as whole words, ignoring case and accents ' +
        '("refund" matches "Refund please" but not "refunded").',
    }),
    categories: list(z.string().trim().min(1).max(100), 100, 'category').meta({
      description: 'The ticket’s category, ignoring case.',
    }),
    companyIds: list(Id, 200, 'company id').meta({
      description: 'The ticket’s company (else the requester’s company).',
    }),
    companyTiers: list(z.string().trim().min(1).max(100), 50, 'company tier').meta({
      description: `That company’s \`${COMPANY_TIER_FIELD}\` custom field (e.g. "gold"), ignoring case.`,
    }),
    priorities: list(z.enum(TICKET_PRIORITIES), TICKET_PRIORITIES.length, 'priority').meta({
      description: 'The priority the ticket was created with.',
    }),
  })
  .partial()
  .meta({
    id: 'TicketRoutingConditions',
    description:
      'All given conditions must hold (any value of each list); a ticket lacking what a condition names does not ' +
      'match. No conditions: every ticket matches.',
  });
export type RoutingConditionsView = z.output<typeof RoutingConditions>;

export const RoutingActions = z
  .strictObject({
    teamId: Id.meta({ description: 'The team whose queue the ticket joins.' }),
    priority: z.enum(TICKET_PRIORITIES).optional().meta({ description: 'Set the ticket’s priority (else kept).' }),
    method: z.enum(ROUTING_METHODS).meta({
      description:
        'roundRobin: the team’s available agents in turn (by user id). leastBusy: the available agent with the ' +
        'fewest unresolved tickets (new, open, pending, on hold).',
    }),
  })
  .meta({ id: 'TicketRoutingActions' });

export const RoutingRule = z
  .strictObject({
    id: RuleId,
    name: z.string().trim().min(1).max(100).optional(),
    active: z.boolean().default(true),
    conditions: RoutingConditions.default({}),
    actions: RoutingActions,
  })
  .meta({ id: 'TicketRoutingRule' });
export type RoutingRuleView = z.output<typeof RoutingRule>;

export const RoutingRulesPut = z
  .strictObject({
    rules: z
      .array(RoutingRule)
      .max(MAX_ROUTING_RULES)
      .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, 'Rule ids must be unique.'),
    fallbackTeamId: Id.optional().meta({
      description:
        'Tickets no rule matches, or that no agent of the team can take, wait unassigned in this team’s queue. ' +
        'Absent: they stay without a team.',
    }),
  })
  .meta({ id: 'TicketRoutingRulesPut' });
export type RoutingRulesPutInput = z.output<typeof RoutingRulesPut>;

export const RoutingRules = z
  .object({
    rules: z.array(RoutingRule).meta({ description: 'In order: the first active rule that matches decides.' }),
    fallbackTeamId: z.string().optional(),
    ...Audit,
  })
  .meta({ id: 'TicketRoutingRules' });
export type RoutingRulesView = z.infer<typeof RoutingRules>;

/** What routing knows about a ticket when it evaluates the rules. */
export interface RoutingSubject {
  channel: string;
  priority: string;
  subject: string;
  description?: string | undefined;
  category?: string | undefined;
  mailboxId?: string | undefined;
  /** Every email address of the requester (their domains are compared). */
  senderEmails?: readonly string[] | undefined;
  companyId?: string | undefined;
  companyTier?: string | undefined;
}

export const RoutingPreviewInput = z
  .strictObject({
    channel: z.enum(TICKET_CHANNELS).default('api'),
    priority: z.enum(TICKET_PRIORITIES).default('normal'),
    subject: z.string().max(250).default(''),
    description: z.string().max(20_000).optional(),
    category: z.string().trim().max(100).optional(),
    mailboxId: Id.optional(),
    senderEmail: z.string().trim().max(254).optional(),
    companyId: Id.optional(),
    companyTier: z.string().trim().max(100).optional(),
  })
  .meta({ id: 'TicketRoutingPreviewInput', description: 'A hypothetical ticket; nothing is stored.' });

export const RoutingPreview = z
  .object({
    ruleId: z.string().nullable().meta({ description: 'The first active rule that matches; null when none does.' }),
    teamId: z.string().nullable().meta({ description: 'The rule’s team, or the fallback team (or null).' }),
    priority: z.enum(TICKET_PRIORITIES),
    method: z.enum(ROUTING_METHODS).nullable(),
    fallback: z.boolean().meta({ description: 'true: no rule matches; the ticket would wait in the fallback queue.' }),
  })
  .meta({ id: 'TicketRoutingPreview' });

/** What a ticket records about its routing (contract 4), set by the routing workflow. */
export const TicketRouting = z
  .object({
    status: z.enum(['routed', 'fallback']),
    ruleId: z.string().optional().meta({ description: 'The rule that matched (absent: none, or a human’s team).' }),
    teamId: z.string().optional(),
    assigneeId: z.string().optional().meta({ description: 'The agent the workflow chose (absent on fallback).' }),
    method: z.enum(ROUTING_METHODS).optional(),
    reason: z.string().optional().meta({ description: 'Why the ticket fell back, e.g. no_rule, no_agent, error.' }),
    routedAt: z.string(),
  })
  .meta({ id: 'TicketRouting' });
export type TicketRoutingView = z.infer<typeof TicketRouting>;

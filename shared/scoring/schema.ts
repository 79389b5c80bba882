import * as z from 'zod';
import { Audit } from '../api/common-schemas.ts';

/** Lead fields a fit rule can test (dot paths into the lead). */
export const FIT_FIELDS = [
  'firstName',
  'lastName',
  'title',
  'emails',
  'phones',
  'tags',
  'source',
  'status',
  'ownerId',
  'utm.source',
  'utm.medium',
  'utm.campaign',
  'company.name',
  'company.domain',
  'company.size',
  'company.industry',
  'company.address.country',
  'company.address.region',
  'company.address.postalCode',
  'consent.email',
] as const;

/** Events engagement rules can count (others, e.g. marketing's email.opened, are accepted by name). */
export const KNOWN_ENGAGEMENT_EVENTS = [
  'form.submitted',
  'activity.created',
  'activity.updated',
  'email.opened',
] as const;

const RuleId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'A short id like "industry-software".');
const Points = z.number().int().min(-1000).max(1000);
const Value = z.string().trim().min(1).max(200);

const FitCondition = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('equals'), value: Value }),
  z.strictObject({ op: z.literal('in'), values: z.array(Value).min(1).max(100) }),
  z.strictObject({ op: z.literal('contains'), value: Value }),
  z.strictObject({ op: z.literal('exists') }),
]);

export const FitRule = z
  .strictObject({
    id: RuleId,
    kind: z.literal('fit'),
    description: z.string().max(500).optional(),
    field: z.enum(FIT_FIELDS),
    condition: FitCondition,
    points: Points,
  })
  .meta({ id: 'FitRule', description: 'Points while a lead field matches (equals/in/contains: case-insensitive).' });

export const EngagementRule = z
  .strictObject({
    id: RuleId,
    kind: z.literal('engagement'),
    description: z.string().max(500).optional(),
    event: z
      .string()
      .regex(/^[a-z][a-z_]*\.[a-z_]+$/, 'An event type like "form.submitted".')
      .meta({ description: `e.g. ${KNOWN_ENGAGEMENT_EVENTS.join(', ')}` }),
    where: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,99}$/), Value)
      .refine((w) => Object.keys(w).length <= 5, 'At most 5 conditions.')
      .optional()
      .meta({
        description:
          'Exact values in the event detail, by dot path: { "record.type": "meeting", "record.status": "held" }.',
      }),
    points: Points,
    halfLifeDays: z
      .number()
      .min(0.1)
      .max(3650)
      .optional()
      .meta({ description: 'Time decay: the points halve every this many days. None: no decay.' }),
  })
  .meta({ id: 'EngagementRule', description: 'Points per matching event (each event counts once per rule).' });

export const ScoringRule = z.discriminatedUnion('kind', [FitRule, EngagementRule]);
export type ScoringRuleDefinition = z.output<typeof ScoringRule>;
export type FitRuleDefinition = z.output<typeof FitRule>;
export type EngagementRuleDefinition = z.output<typeof EngagementRule>;

export const ScoringRulesPut = z
  .strictObject({
    rules: z
      .array(ScoringRule)
      .max(100)
      .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, 'Rule ids must be unique.'),
  })
  .meta({ id: 'ScoringRulesPut' });

export const ScoringRules = z
  .object({ rules: z.array(ScoringRule), ...Audit })
  .meta({ id: 'ScoringRules', description: 'Version 0: no rules saved yet.' });
export type ScoringRulesView = z.infer<typeof ScoringRules>;

import * as z from 'zod';
import { Audit, Id } from '../api/common-schemas.ts';

export const ASSIGNABLE_ENTITIES = ['lead', 'contact', 'deal'] as const;
export type AssignableEntity = (typeof ASSIGNABLE_ENTITIES)[number];
export const ASSIGNMENT_METHODS = ['roundRobin', 'leastLoaded'] as const;
export const MAX_ASSIGNMENT_RULES = 100;

const RuleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'Use lower-case letters, digits and "-" (at most 64), e.g. "emea-inbound".')
  .meta({ description: 'Chosen by you and kept across edits: a round-robin rule keeps its rotation under its id.' });

const list = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z.array(item).min(1, `Give at least one ${what} or leave the condition out.`).max(max, `At most ${max} ${what}s.`);

export const TerritoryConditions = z
  .strictObject({
    countries: list(
      z
        .string()
        .regex(/^[A-Za-z]{2}$/, 'Use an ISO 3166-1 alpha-2 country code, e.g. "DE".')
        .transform((c) => c.toUpperCase()),
      250,
      'country',
    ),
    regions: list(z.string().trim().min(1).max(100), 200, 'region').meta({
      description: 'State, province or region names, compared case- and accent-insensitively.',
    }),
    postalCodePrefixes: list(z.string().trim().min(1).max(20), 500, 'postal-code prefix').meta({
      description: 'Compared ignoring case, spaces and "-": "SW1" matches "sw1a 1aa".',
    }),
    sources: list(z.string().trim().min(1).max(64), 50, 'source').meta({
      description: 'Lead sources (form, import, api, email...), compared case-insensitively.',
    }),
  })
  .partial()
  .meta({
    id: 'AssignmentConditions',
    description:
      'All given conditions must hold (any value of each list); a record lacking a field a condition names does not ' +
      'match. No conditions: every record of the rule’s entities matches.',
  });

export const AssignmentRule = z
  .strictObject({
    id: RuleId,
    name: z.string().trim().min(1).max(100).optional(),
    entities: z
      .array(z.enum(ASSIGNABLE_ENTITIES))
      .min(1)
      .max(3)
      .transform((e) => [...new Set(e)]),
    conditions: TerritoryConditions.default({}),
    teamId: Id,
    method: z.enum(ASSIGNMENT_METHODS).meta({
      description:
        'roundRobin: the team’s eligible members in turn (by user id), exactly evenly under concurrency. ' +
        'leastLoaded: the eligible member with the fewest open assigned records.',
    }),
    active: z.boolean().default(true),
  })
  .meta({ id: 'AssignmentRule' });
export type AssignmentRuleView = z.output<typeof AssignmentRule>;

export const AssignmentRulesPut = z
  .strictObject({
    rules: z
      .array(AssignmentRule)
      .max(MAX_ASSIGNMENT_RULES)
      .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, 'Rule ids must be unique.'),
  })
  .meta({ id: 'AssignmentRulesPut' });
export type AssignmentRulesPutInput = z.output<typeof AssignmentRulesPut>;

export const AssignmentRules = z
  .object({
    rules: z.array(AssignmentRule).meta({ description: 'In order: the first active rule that matches decides.' }),
    ...Audit,
  })
  .meta({ id: 'AssignmentRules' });
export type AssignmentRulesView = z.infer<typeof AssignmentRules>;

/** What a record being created without an owner tells assignment about itself. */
export interface AssignmentSubject {
  entity: AssignableEntity;
  country?: string;
  region?: string;
  postalCode?: string;
  source?: string;
}

export const AssignmentPreviewQuery = z
  .strictObject({
    entity: z.enum(ASSIGNABLE_ENTITIES),
    country: z.string().trim().max(2).optional(),
    region: z.string().trim().max(100).optional(),
    postalCode: z.string().trim().max(20).optional(),
    source: z.string().trim().max(64).optional(),
  })
  .meta({ id: 'AssignmentPreviewQuery' });

export const AssignmentPreview = z
  .object({
    ruleId: z.string().nullable().meta({ description: 'The first active rule that matches; null when none does.' }),
    teamId: z.string().nullable(),
    eligibleUserIds: z
      .array(z.string())
      .meta({ description: 'The team’s members who would be chosen from now (available, under capacity).' }),
  })
  .meta({ id: 'AssignmentPreview', description: 'Which rule and members a record would meet; nothing is assigned.' });

import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp } from '../api/common-schemas.ts';
import { LIFECYCLE_STAGES } from '../contacts/schema.ts';
import type { CustomFieldDefinition } from '../custom-fields/schema.ts';
import type { FieldError } from '../errors.ts';

/**
 * The segment filter language: `{ all: [...] } | { any: [...] } | { not: f }` over conditions
 * `{ field, op, value? }`. Zod checks the shape; `filterProblems` checks each condition against its field (operators
 * and value types, custom fields against the tenant's declarations). Bounded so that evaluating one contact against
 * every segment of a tenant stays cheap and a stored filter stays small.
 */
export const FILTER_LIMITS = { depth: 5, conditions: 50, children: 20, values: 100 } as const;

export const OPERATORS = ['eq', 'neq', 'in', 'contains', 'exists', 'gt', 'lt', 'between', 'withinDays'] as const;
export type Operator = (typeof OPERATORS)[number];

const Scalar = z.union([z.string().max(2000), z.number(), z.boolean()]);

export const Condition = z
  .strictObject({
    field: z
      .string()
      .min(1)
      .max(80)
      .meta({
        description:
          'lifecycleStage, tags, address.country, address.region, ownerId, companyId, emailDomain, createdAt, ' +
          'consent.email, consent.sms, consent.phone, engagement.opened, engagement.clicked, custom.<key> (a ' +
          'custom field declared for contacts), or subscriptions.<categoryId> (a subscription category).',
      }),
    op: z.enum(OPERATORS),
    value: z
      .union([Scalar, z.array(Scalar).max(FILTER_LIMITS.values)])
      .optional()
      .meta({
        description:
          'eq/neq/contains/gt/lt: one value; in: a list; between: [low, high] (inclusive); withinDays: whole days ' +
          '(1-3650); exists: true or false (default true).',
      }),
  })
  .meta({ id: 'SegmentCondition' });
export type Condition = z.infer<typeof Condition>;

export type Filter = { all: Filter[] } | { any: Filter[] } | { not: Filter } | Condition;

export const Filter: z.ZodType<Filter> = z
  .union([
    z.strictObject({
      get all() {
        return z.array(Filter).min(1).max(FILTER_LIMITS.children);
      },
    }),
    z.strictObject({
      get any() {
        return z.array(Filter).min(1).max(FILTER_LIMITS.children);
      },
    }),
    z.strictObject({
      get not() {
        return Filter;
      },
    }),
    Condition,
  ])
  .meta({
    id: 'SegmentFilter',
    description: `All of, any of, or not a filter, or one condition. At most ${FILTER_LIMITS.depth} levels deep and ${FILTER_LIMITS.conditions} conditions.`,
  });

/** How a field may be compared: its kind decides the operators and value types. */
type FieldKind =
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'string' }
  | { kind: 'list' }
  | { kind: 'instant' }
  | { kind: 'engagement' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  | { kind: 'date' }
  | { kind: 'options'; values: readonly string[] }
  | { kind: 'optionList'; values: readonly string[] };

const CONSENT_VALUES = ['granted', 'withdrawn', 'unknown'] as const;

export const CONTACT_FIELDS: Record<string, FieldKind> = {
  lifecycleStage: { kind: 'enum', values: LIFECYCLE_STAGES },
  tags: { kind: 'list' },
  'address.country': { kind: 'string' },
  'address.region': { kind: 'string' },
  ownerId: { kind: 'string' },
  companyId: { kind: 'string' },
  emailDomain: { kind: 'string' },
  createdAt: { kind: 'instant' },
  'consent.email': { kind: 'enum', values: CONSENT_VALUES },
  'consent.sms': { kind: 'enum', values: CONSENT_VALUES },
  'consent.phone': { kind: 'enum', values: CONSENT_VALUES },
  'engagement.opened': { kind: 'engagement' },
  'engagement.clicked': { kind: 'engagement' },
};

const OPS_BY_KIND: Record<FieldKind['kind'], readonly Operator[]> = {
  enum: ['eq', 'neq', 'in', 'exists'],
  string: ['eq', 'neq', 'in', 'exists'],
  list: ['contains', 'in', 'exists'],
  instant: ['gt', 'lt', 'between', 'withinDays', 'exists'],
  engagement: ['withinDays', 'exists'],
  number: ['eq', 'neq', 'in', 'gt', 'lt', 'between', 'exists'],
  boolean: ['eq', 'exists'],
  date: ['eq', 'gt', 'lt', 'between', 'withinDays', 'exists'],
  options: ['eq', 'neq', 'in', 'exists'],
  optionList: ['contains', 'in', 'exists'],
};

function customKind(definition: CustomFieldDefinition): FieldKind {
  switch (definition.type) {
    case 'text':
      return { kind: 'string' };
    case 'number':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'date':
      return { kind: 'date' };
    case 'select':
      return { kind: 'options', values: definition.options ?? [] };
    case 'multiselect':
      return { kind: 'optionList', values: definition.options ?? [] };
  }
}

/** A contact's choice for a subscription category: absent until it makes one (or one is made for it). */
const SUBSCRIPTION_VALUES = ['subscribed', 'unsubscribed'] as const;

/** The kind of a filter field, or undefined for a field that does not exist (for this tenant). */
export function fieldKind(
  field: string,
  customFields: readonly CustomFieldDefinition[],
  categories: readonly string[] = [],
): FieldKind | undefined {
  if (field.startsWith('subscriptions.')) {
    return categories.includes(field.slice('subscriptions.'.length))
      ? { kind: 'enum', values: SUBSCRIPTION_VALUES }
      : undefined;
  }
  if (field.startsWith('custom.')) {
    const definition = customFields.find((f) => `custom.${f.key}` === field);
    return definition ? customKind(definition) : undefined;
  }
  return Object.hasOwn(CONTACT_FIELDS, field) ? CONTACT_FIELDS[field] : undefined;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether one operand fits the field (a problem message, or undefined). */
function operandProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind.kind) {
    case 'enum':
    case 'options':
    case 'optionList':
      return typeof value === 'string' && kind.values.includes(value)
        ? undefined
        : `Expected one of: ${kind.values.join(', ')}.`;
    case 'string':
    case 'list':
      return typeof value === 'string' && value.length > 0 ? undefined : 'Expected a non-empty string.';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'Expected a number.';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'Expected true or false.';
    case 'instant':
      return typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'Expected an ISO 8601 timestamp with a time zone, e.g. 2026-01-31T00:00:00Z.';
    case 'date':
      return typeof value === 'string' && ISO_DATE.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'Expected a date as YYYY-MM-DD.';
    case 'engagement':
      return 'Engagement takes withinDays or exists.';
  }
}

function conditionProblems(
  c: Condition,
  path: string,
  customFields: readonly CustomFieldDefinition[],
  categories: readonly string[],
): FieldError[] {
  const kind = fieldKind(c.field, customFields, categories);
  if (!kind) {
    const message = c.field.startsWith('custom.')
      ? `No custom field "${c.field.slice(7)}" is declared for contacts.`
      : c.field.startsWith('subscriptions.')
        ? `No subscription category "${c.field.slice(14)}" (GET /v1/subscription-categories).`
        : `Unknown field. Use one of: ${Object.keys(CONTACT_FIELDS).join(', ')}, custom.<key> or subscriptions.<categoryId>.`;
    return [{ field: `${path}.field`, message, code: 'segment.unknown_field' }];
  }
  const allowed = OPS_BY_KIND[kind.kind];
  if (!allowed.includes(c.op)) {
    return [
      {
        field: `${path}.op`,
        message: `${c.field} takes ${allowed.join(', ')}.`,
        code: 'segment.operator_not_allowed',
      },
    ];
  }
  const problem = (message: string) => [{ field: `${path}.value`, message, code: 'segment.invalid_value' }];
  const v = c.value;
  switch (c.op) {
    case 'exists':
      return v === undefined || typeof v === 'boolean' ? [] : problem('exists takes true, false or no value.');
    case 'withinDays':
      return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 3650
        ? []
        : problem('withinDays takes whole days from 1 to 3650.');
    case 'in': {
      if (!Array.isArray(v) || v.length === 0) return problem('in takes a non-empty list.');
      const bad = v.map((item) => operandProblem(kind, item)).find(Boolean);
      return bad ? problem(bad) : [];
    }
    case 'between': {
      if (!Array.isArray(v) || v.length !== 2) return problem('between takes [low, high].');
      const bad = v.map((item) => operandProblem(kind, item)).find(Boolean);
      if (bad) return problem(bad);
      return compare(v[0], v[1]) > 0 ? problem('between needs low <= high.') : [];
    }
    default: {
      if (v === undefined || Array.isArray(v)) return problem(`${c.op} takes one value.`);
      const bad = operandProblem(kind, v);
      return bad ? problem(bad) : [];
    }
  }
}

/** Orders two operands of one kind (numbers numerically, timestamps by instant, dates as text). */
export function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const ta = typeof a === 'string' && ISO_INSTANT.test(a) ? Date.parse(a) : Number.NaN;
  const tb = typeof b === 'string' && ISO_INSTANT.test(b) ? Date.parse(b) : Number.NaN;
  if (!Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/**
 * Every problem of a filter that has the right shape, as field errors under `prefix` (e.g. `body.filter`): depth,
 * the number of conditions, unknown fields, operators the field does not take, operands of the wrong type.
 */
export function filterProblems(
  filter: Filter,
  customFields: readonly CustomFieldDefinition[],
  prefix = 'body.filter',
  categories: readonly string[] = [],
): FieldError[] {
  const errors: FieldError[] = [];
  let conditions = 0;
  const visit = (f: Filter, path: string, depth: number) => {
    if (depth > FILTER_LIMITS.depth) {
      errors.push({
        field: path,
        message: `At most ${FILTER_LIMITS.depth} levels of all/any/not.`,
        code: 'segment.too_deep',
      });
      return;
    }
    if ('all' in f) {
      for (const [i, child] of f.all.entries()) visit(child, `${path}.all.${i}`, depth + 1);
    } else if ('any' in f) {
      for (const [i, child] of f.any.entries()) visit(child, `${path}.any.${i}`, depth + 1);
    } else if ('not' in f) visit(f.not, `${path}.not`, depth + 1);
    else {
      conditions += 1;
      errors.push(...conditionProblems(f, path, customFields, categories));
    }
  };
  visit(filter, prefix, 0);
  if (conditions > FILTER_LIMITS.conditions) {
    errors.push({
      field: prefix,
      message: `At most ${FILTER_LIMITS.conditions} conditions (found ${conditions}).`,
      code: 'segment.too_many_conditions',
    });
  }
  return errors;
}

/**
 * How passing time changes a filter's result: `none` (it does not), `lapsing` (withinDays only where a match can
 * only end as time passes: the members need re-checking), `entering` (a withinDays under a `not`: contacts that did
 * not match can start to, so the whole audience needs re-evaluating).
 */
export function timeDependence(filter: Filter): 'none' | 'lapsing' | 'entering' {
  let result: 'none' | 'lapsing' | 'entering' = 'none';
  const visit = (f: Filter, negated: boolean) => {
    if ('all' in f) for (const child of f.all) visit(child, negated);
    else if ('any' in f) for (const child of f.any) visit(child, negated);
    else if ('not' in f) visit(f.not, !negated);
    else if (f.op === 'withinDays') {
      if (negated) result = 'entering';
      else if (result === 'none') result = 'lapsing';
    }
  };
  visit(filter, false);
  return result;
}

export const SEGMENT_KINDS = ['dynamic', 'static'] as const;

const Name = z.string().trim().min(1).max(200);
const Description = z.string().trim().max(1000);

export const SegmentCreate = z
  .strictObject({
    kind: z.enum(SEGMENT_KINDS).meta({ description: 'dynamic: members follow `filter`; static: a list you manage.' }),
    name: Name,
    description: Description.optional(),
    filter: Filter.optional(),
  })
  .meta({
    id: 'SegmentCreate',
    description: 'A dynamic segment needs `filter`; a static list takes none (add members instead).',
  });
export type SegmentCreateInput = z.output<typeof SegmentCreate>;

export const SegmentPatch = z
  .strictObject({
    name: Name,
    description: Description.nullable(),
    filter: Filter,
  })
  .partial()
  .meta({
    id: 'SegmentPatch',
    description:
      'Fields given replace the stored ones; null clears the description. `filter` (dynamic segments only): a new ' +
      'filter starts a new backfill.',
  });
export type SegmentPatchInput = z.output<typeof SegmentPatch>;

export const BACKFILL_STATUSES = ['pending', 'running', 'done', 'failed'] as const;

export const BackfillProgress = z
  .object({
    status: z.enum(BACKFILL_STATUSES),
    /** The evaluation the progress is for. */
    evaluation: z.number().int(),
    processed: z.number().int().meta({ description: 'Contacts evaluated so far.' }),
    matched: z.number().int().meta({ description: 'Of those, how many matched.' }),
    startedAt: Timestamp.optional(),
    finishedAt: Timestamp.optional(),
  })
  .meta({ id: 'SegmentBackfill' });

export const Segment = z
  .object({
    id: z.string(),
    kind: z.enum(SEGMENT_KINDS),
    name: z.string(),
    description: z.string().optional(),
    filter: Filter.optional(),
    filterVersion: z.number().int().optional().meta({ description: 'Bumped whenever the filter changes.' }),
    memberCount: z.number().int().meta({ description: 'Exact: kept with every member write.' }),
    backfill: BackfillProgress.optional().meta({
      description: 'Dynamic segments: the evaluation of every contact against the current filter.',
    }),
    ...Audit,
  })
  .meta({ id: 'Segment' });
export type SegmentView = z.infer<typeof Segment>;

export const SegmentIdParams = z.object({ segmentId: Id });
export const SegmentListQuery = z
  .strictObject({
    ...PageQuery,
    inTrash: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => (v === 'true' ? true : undefined))
      .meta({ description: 'true: deleted segments, most recently deleted first.' }),
  })
  .meta({ id: 'SegmentListQuery' });

export const SegmentMember = z
  .object({
    contactId: z.string(),
    addedAt: Timestamp,
    source: z.enum(['filter', 'manual', 'backfill']),
  })
  .meta({ id: 'SegmentMember' });

export const MAX_BULK_MEMBERS = 1000;

export const SegmentMembersChange = z
  .strictObject({
    contactIds: z
      .array(Id)
      .min(1)
      .max(MAX_BULK_MEMBERS)
      .transform((ids) => [...new Set(ids)]),
  })
  .meta({ id: 'SegmentMembersChange' });

export const SegmentMembersResult = z
  .object({
    changed: z.number().int().meta({ description: 'Members added (or removed) by this request.' }),
    unchanged: z.number().int().meta({ description: 'Already members (or already not members).' }),
    notFound: z.array(z.string()).meta({ description: 'Contact ids that are not live contacts of yours: skipped.' }),
    memberCount: z.number().int(),
  })
  .meta({ id: 'SegmentMembersResult' });
export type SegmentMembersResultView = z.infer<typeof SegmentMembersResult>;

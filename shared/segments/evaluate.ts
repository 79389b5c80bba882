import { type Condition, compare, type Filter } from './schema.ts';

/** What a filter is evaluated against: the contact as stored and its email engagement (a separate item). */
export interface EvaluationSubject {
  contact: {
    lifecycleStage?: string;
    tags?: string[];
    address?: { country?: string; region?: string };
    ownerId?: string;
    companyId?: string;
    emails?: string[];
    createdAt?: string;
    consent?: { email?: string; sms?: string; phone?: string };
    customFields?: Record<string, unknown>;
    /** Per subscription category: the contact's choice. */
    subscriptions?: Record<string, { status?: string } | undefined>;
    deletedAt?: string;
    mergedInto?: string;
  };
  engagement?: { lastOpenedAt?: string; lastClickedAt?: string } | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Ids compare exactly (tenant data may use case); everything else textual is compared case-insensitively. */
const EXACT = new Set(['ownerId', 'companyId']);

/** The value(s) a condition's field has on the subject; undefined when absent. */
function fieldValue(field: string, s: EvaluationSubject): unknown {
  const c = s.contact;
  switch (field) {
    case 'lifecycleStage':
      return c.lifecycleStage;
    case 'tags':
      return c.tags && c.tags.length > 0 ? c.tags : undefined;
    case 'address.country':
      return c.address?.country;
    case 'address.region':
      return c.address?.region;
    case 'ownerId':
      return c.ownerId;
    case 'companyId':
      return c.companyId;
    case 'emailDomain': {
      const domains = (c.emails ?? []).map((e) => e.slice(e.lastIndexOf('@') + 1)).filter(Boolean);
      return domains.length > 0 ? domains : undefined;
    }
    case 'createdAt':
      return c.createdAt;
    // Consent never given is "unknown", which is what a campaign treats it as.
    case 'consent.email':
      return c.consent?.email ?? 'unknown';
    case 'consent.sms':
      return c.consent?.sms ?? 'unknown';
    case 'consent.phone':
      return c.consent?.phone ?? 'unknown';
    case 'engagement.opened':
      return s.engagement?.lastOpenedAt;
    case 'engagement.clicked':
      return s.engagement?.lastClickedAt;
    default: {
      if (field.startsWith('subscriptions.')) return c.subscriptions?.[field.slice(14)]?.status;
      if (!field.startsWith('custom.')) return undefined;
      const value = c.customFields?.[field.slice(7)];
      if (value === null || value === '' || (Array.isArray(value) && value.length === 0)) return undefined;
      return value;
    }
  }
}

function within(instant: unknown, days: number, now: number): boolean {
  if (typeof instant !== 'string') return false;
  // A plain date (custom date field) counts from the start of its UTC day.
  const at = Date.parse(instant);
  return !Number.isNaN(at) && at <= now && at >= now - days * DAY_MS;
}

function test(condition: Condition, s: EvaluationSubject, now: number): boolean {
  const actual = fieldValue(condition.field, s);
  const expected = condition.value;
  if (condition.op === 'exists') return (actual !== undefined) === (expected ?? true);
  // neq of an absent value is true: "not in Germany" includes contacts without a country.
  if (actual === undefined) return condition.op === 'neq';
  const fold = (v: unknown) => (typeof v === 'string' && !EXACT.has(condition.field) ? v.toLowerCase() : v);
  const values = Array.isArray(actual) ? actual.map(fold) : [fold(actual)];
  switch (condition.op) {
    case 'eq':
      return values.some((v) => v === fold(expected));
    case 'neq':
      return values.every((v) => v !== fold(expected));
    case 'in': {
      const options = (expected as unknown[]).map(fold);
      return values.some((v) => options.includes(v));
    }
    case 'contains':
      return values.includes(fold(expected));
    case 'gt':
      return values.some((v) => compare(v, expected) > 0);
    case 'lt':
      return values.some((v) => compare(v, expected) < 0);
    case 'between': {
      const [low, high] = expected as [unknown, unknown];
      return values.some((v) => compare(v, low) >= 0 && compare(v, high) <= 0);
    }
    case 'withinDays':
      return within(actual, expected as number, now);
  }
}

/**
 * Whether a contact matches a filter at `now`. A deleted or merged contact matches nothing (it is in no audience).
 * The filter is assumed valid (checked with `filterProblems` when stored): an operator a field does not take is
 * simply false here, never an exception, so a consumer cannot wedge on an old filter.
 */
export function matches(filter: Filter, subject: EvaluationSubject, now = Date.now()): boolean {
  if (subject.contact.deletedAt || subject.contact.mergedInto) return false;
  const visit = (f: Filter): boolean => {
    if ('all' in f) return f.all.every(visit);
    if ('any' in f) return f.any.some(visit);
    if ('not' in f) return !visit(f.not);
    try {
      return test(f, subject, now);
    } catch {
      return false;
    }
  };
  return visit(filter);
}

/** Whether any condition reads engagement (those segments care about email.opened / email.clicked). */
export function readsEngagement(filter: Filter): boolean {
  if ('all' in filter) return filter.all.some(readsEngagement);
  if ('any' in filter) return filter.any.some(readsEngagement);
  if ('not' in filter) return readsEngagement(filter.not);
  return filter.field.startsWith('engagement.');
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CustomFieldDefinition } from '../custom-fields/schema.ts';
import { type EvaluationSubject, matches } from './evaluate.ts';
import { type Condition, FILTER_LIMITS, Filter, filterProblems, timeDependence } from './schema.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW - d * 86_400_000).toISOString();

const custom: CustomFieldDefinition[] = [
  { key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'] },
  { key: 'seats', label: 'Seats', type: 'number' },
  { key: 'trial', label: 'Trial', type: 'boolean' },
  { key: 'renewal', label: 'Renewal', type: 'date' },
  { key: 'products', label: 'Products', type: 'multiselect', options: ['crm', 'desk'] },
  { key: 'note', label: 'Note', type: 'text' },
];

const ada: EvaluationSubject = {
  contact: {
    lifecycleStage: 'customer',
    tags: ['vip', 'beta'],
    address: { country: 'DE', region: 'Bayern' },
    ownerId: 'User-1',
    companyId: 'co-1',
    emails: ['ada@Example.com', 'ada@work.example'],
    createdAt: daysAgo(10),
    consent: { email: 'granted' },
    customFields: { tier: 'gold', seats: 12, trial: false, renewal: '2027-01-15', products: ['crm'], note: 'Hi' },
    subscriptions: { newsletter: { status: 'unsubscribed' }, events: { status: 'subscribed' } },
  },
  engagement: { lastOpenedAt: daysAgo(3), lastClickedAt: daysAgo(40) },
};

const c = (field: string, op: Condition['op'], value?: Condition['value']): Condition =>
  value === undefined ? { field, op } : { field, op, value };

describe('matches', () => {
  it.each([
    [c('lifecycleStage', 'eq', 'customer'), true],
    [c('lifecycleStage', 'neq', 'customer'), false],
    [c('lifecycleStage', 'in', ['lead', 'customer']), true],
    [c('tags', 'contains', 'VIP'), true],
    [c('tags', 'contains', 'churned'), false],
    [c('tags', 'in', ['x', 'beta']), true],
    [c('address.country', 'eq', 'de'), true],
    [c('address.region', 'in', ['bayern', 'hessen']), true],
    [c('ownerId', 'eq', 'user-1'), false],
    [c('ownerId', 'eq', 'User-1'), true],
    [c('companyId', 'exists'), true],
    [c('companyId', 'exists', false), false],
    [c('emailDomain', 'eq', 'example.com'), true],
    [c('emailDomain', 'eq', 'work.example'), true],
    [c('emailDomain', 'neq', 'work.example'), false],
    [c('createdAt', 'withinDays', 30), true],
    [c('createdAt', 'withinDays', 7), false],
    [c('createdAt', 'gt', daysAgo(11)), true],
    [c('createdAt', 'between', [daysAgo(20), daysAgo(5)]), true],
    [c('consent.email', 'eq', 'granted'), true],
    [c('consent.sms', 'eq', 'unknown'), true],
    [c('engagement.opened', 'withinDays', 7), true],
    [c('engagement.clicked', 'withinDays', 30), false],
    [c('engagement.clicked', 'exists'), true],
    [c('custom.tier', 'eq', 'gold'), true],
    [c('custom.seats', 'gt', 10), true],
    [c('custom.seats', 'between', [1, 11]), false],
    [c('custom.trial', 'eq', false), true],
    [c('custom.renewal', 'lt', '2027-02-01'), true],
    [c('custom.products', 'contains', 'crm'), true],
    [c('custom.products', 'contains', 'desk'), false],
    [c('custom.note', 'eq', 'hi'), true],
    [c('custom.missing', 'exists'), false],
    [c('subscriptions.newsletter', 'eq', 'subscribed'), false],
    [c('subscriptions.events', 'eq', 'subscribed'), true],
    [c('subscriptions.webinars', 'exists'), false],
    [c('subscriptions.webinars', 'neq', 'unsubscribed'), true],
  ])('%j is %s', (condition, expected) => {
    expect(matches(condition, ada, NOW)).toBe(expected);
  });

  it('treats an absent value as unequal and as matching nothing else', () => {
    const bare: EvaluationSubject = { contact: { createdAt: daysAgo(1) } };
    expect(matches(c('address.country', 'neq', 'DE'), bare, NOW)).toBe(true);
    expect(matches(c('address.country', 'eq', 'DE'), bare, NOW)).toBe(false);
    expect(matches(c('engagement.opened', 'withinDays', 30), bare, NOW)).toBe(false);
    expect(matches(c('consent.email', 'eq', 'granted'), bare, NOW)).toBe(false);
  });

  it('combines with all, any and not; a deleted or merged contact matches nothing', () => {
    const f: Filter = {
      all: [c('tags', 'contains', 'vip'), { not: c('address.country', 'eq', 'FR') }, { any: [c('seats', 'exists')] }],
    };
    expect(matches(f, ada, NOW)).toBe(false);
    const g: Filter = { all: [c('tags', 'contains', 'vip'), { not: c('address.country', 'eq', 'FR') }] };
    expect(matches(g, ada, NOW)).toBe(true);
    expect(matches(g, { ...ada, contact: { ...ada.contact, deletedAt: daysAgo(0) } }, NOW)).toBe(false);
    expect(matches({ not: c('tags', 'contains', 'none') }, { contact: { mergedInto: 'x' } }, NOW)).toBe(false);
  });
});

describe('filterProblems', () => {
  const problems = (f: unknown) => {
    const parsed = Filter.safeParse(f);
    if (!parsed.success) return ['shape'];
    return filterProblems(parsed.data, custom).map((e) => `${e.field} ${e.code}`);
  };

  it('accepts well-typed filters', () => {
    expect(
      problems({
        all: [
          c('custom.tier', 'in', ['gold']),
          c('createdAt', 'withinDays', 30),
          { not: c('custom.renewal', 'between', ['2026-01-01', '2026-12-31']) },
        ],
      }),
    ).toEqual([]);
  });

  it('names the field of each problem', () => {
    expect(
      problems({
        any: [
          c('score', 'gt', 5),
          c('custom.nope', 'eq', 'x'),
          c('tags', 'gt', 'a'),
          c('lifecycleStage', 'eq', 'boss'),
          c('custom.seats', 'eq', 'ten'),
          c('createdAt', 'between', [daysAgo(1), daysAgo(5)]),
          c('engagement.opened', 'withinDays', 0),
          c('custom.tier', 'in', []),
        ],
      }),
    ).toEqual([
      'body.filter.any.0.field segment.unknown_field',
      'body.filter.any.1.field segment.unknown_field',
      'body.filter.any.2.op segment.operator_not_allowed',
      'body.filter.any.3.value segment.invalid_value',
      'body.filter.any.4.value segment.invalid_value',
      'body.filter.any.5.value segment.invalid_value',
      'body.filter.any.6.value segment.invalid_value',
      'body.filter.any.7.value segment.invalid_value',
    ]);
  });

  it('takes subscription categories the tenant has, with their statuses', () => {
    const check = (f: Filter) => filterProblems(f, custom, 'body.filter', ['newsletter']).map((e) => e.field);
    expect(check(c('subscriptions.newsletter', 'eq', 'subscribed'))).toEqual([]);
    expect(check(c('subscriptions.newsletter', 'eq', 'maybe'))).toEqual(['body.filter.value']);
    expect(check(c('subscriptions.events', 'eq', 'subscribed'))).toEqual(['body.filter.field']);
    expect(check(c('subscriptions.newsletter', 'contains', 'x'))).toEqual(['body.filter.op']);
  });

  it('bounds depth and the number of conditions', () => {
    let deep: Filter = c('tags', 'exists');
    for (let i = 0; i <= FILTER_LIMITS.depth; i++) deep = { not: deep };
    expect(problems(deep)).toEqual([expect.stringContaining('segment.too_deep')]);
    const wide = {
      all: Array.from({ length: 3 }, () => ({ any: Array.from({ length: 20 }, () => c('tags', 'exists')) })),
    };
    expect(problems(wide)).toEqual(['body.filter segment.too_many_conditions']);
    expect(problems({ all: [] })).toEqual(['shape']);
    expect(problems({ all: [c('tags', 'exists')], any: [c('tags', 'exists')] })).toEqual(['shape']);
  });

  it('tells lapsing from entering time windows', () => {
    expect(timeDependence(c('tags', 'exists'))).toBe('none');
    expect(timeDependence({ all: [c('engagement.opened', 'withinDays', 7)] })).toBe('lapsing');
    expect(timeDependence({ not: { any: [c('engagement.opened', 'withinDays', 7)] } })).toBe('entering');
    expect(timeDependence({ not: { not: c('createdAt', 'withinDays', 7) } })).toBe('lapsing');
  });
});

describe('properties', () => {
  const condition = fc.oneof(
    fc.constantFrom('customer', 'lead', 'other').map((v) => c('lifecycleStage', 'eq', v)),
    fc.constantFrom('vip', 'beta', 'x').map((v) => c('tags', 'contains', v)),
    fc.constantFrom('DE', 'FR').map((v) => c('address.country', 'neq', v)),
    fc.integer({ min: 1, max: 60 }).map((d) => c('engagement.opened', 'withinDays', d)),
    fc.integer({ min: 0, max: 20 }).map((n) => c('custom.seats', 'gt', n)),
    fc.boolean().map((b) => c('companyId', 'exists', b)),
  );
  const filter = fc.letrec<{ f: Filter }>((tie) => ({
    f: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      condition,
      fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
      fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
      tie('f').map((not) => ({ not })),
    ),
  })).f;
  const subject = fc.record({
    contact: fc.record(
      {
        lifecycleStage: fc.constantFrom('customer', 'lead'),
        tags: fc.subarray(['vip', 'beta', 'x']),
        address: fc.record({ country: fc.constantFrom('DE', 'FR') }, { requiredKeys: [] }),
        companyId: fc.constant('co-1'),
        customFields: fc.record({ seats: fc.integer({ min: 0, max: 20 }) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    engagement: fc.option(fc.record({ lastOpenedAt: fc.integer({ min: 0, max: 90 }).map(daysAgo) }), {
      nil: undefined,
    }),
  }) as fc.Arbitrary<EvaluationSubject>;

  it('not is a complement, and De Morgan holds', () => {
    fc.assert(
      fc.property(filter, filter, subject, (a, b, s) => {
        expect(matches({ not: a }, s, NOW)).toBe(!matches(a, s, NOW));
        expect(matches({ not: { all: [a, b] } }, s, NOW)).toBe(matches({ any: [{ not: a }, { not: b }] }, s, NOW));
        expect(matches({ all: [a, b] }, s, NOW)).toBe(matches(a, s, NOW) && matches(b, s, NOW));
      }),
    );
  });

  it('generated filters have the shape the API accepts and no problems within the bounds', () => {
    fc.assert(
      fc.property(filter, (f) => {
        expect(Filter.safeParse(f).success).toBe(true);
        const errors = filterProblems(f, custom);
        expect(errors.every((e) => e.code === 'segment.too_deep' || e.code === 'segment.too_many_conditions')).toBe(
          true,
        );
      }),
    );
  });

  it('a lapsing filter never gains members as time passes', () => {
    fc.assert(
      fc.property(filter, subject, fc.integer({ min: 0, max: 60 }), (f, s, later) => {
        if (timeDependence(f) !== 'lapsing') return;
        if (!matches(f, s, NOW + later * 86_400_000)) return;
        expect(matches(f, s, NOW)).toBe(true);
      }),
    );
  });
});

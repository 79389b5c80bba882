import { describe, expect, it } from 'vitest';
import type { ScoringRuleDefinition } from './schema.ts';
import {
  addEngagements,
  computeScore,
  decayed,
  type Engagement,
  engagementMatches,
  fitMatches,
  MAX_ENGAGEMENTS,
  nextDecayPoint,
  valueAt,
} from './score.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const lead = {
  firstName: 'Ada',
  emails: ['ada@example.com'],
  tags: ['vip', 'event'],
  source: 'form',
  company: { name: 'Engines', industry: 'Software', address: { country: 'DE' } },
};

const rules: ScoringRuleDefinition[] = [
  {
    id: 'software',
    kind: 'fit',
    field: 'company.industry',
    condition: { op: 'equals', value: 'software' },
    points: 10,
  },
  {
    id: 'dach',
    kind: 'fit',
    field: 'company.address.country',
    condition: { op: 'in', values: ['DE', 'AT'] },
    points: 5,
  },
  { id: 'vip', kind: 'fit', field: 'tags', condition: { op: 'contains', value: 'vi' }, points: 3 },
  { id: 'no-title', kind: 'fit', field: 'title', condition: { op: 'exists' }, points: 7 },
  { id: 'form', kind: 'engagement', event: 'form.submitted', points: 20, halfLifeDays: 10 },
  {
    id: 'meeting-held',
    kind: 'engagement',
    event: 'activity.updated',
    where: { 'record.type': 'meeting', 'record.status': 'held' },
    points: 30,
  },
];

describe('fit rules', () => {
  it('equals / in / contains compare case-insensitively; exists needs a non-empty value', () => {
    const [software, dach, vip, title] = rules as [never, never, never, never];
    expect(fitMatches(software, lead)).toBe(true);
    expect(fitMatches(dach, lead)).toBe(true);
    expect(fitMatches(vip, lead)).toBe(true);
    expect(fitMatches(title, lead)).toBe(false);
    expect(fitMatches(title, { ...lead, title: '' })).toBe(false);
    expect(fitMatches(title, { ...lead, title: 'CTO' })).toBe(true);
    expect(fitMatches(dach, { ...lead, company: { address: { country: 'FR' } } })).toBe(false);
    expect(fitMatches(software, {})).toBe(false);
  });

  it('reads dot paths, stopping at anything that is not an object', () => {
    expect(valueAt(lead, 'company.address.country')).toBe('DE');
    expect(valueAt(lead, 'company.name.length')).toBeUndefined();
    expect(valueAt(lead, 'nothing.here')).toBeUndefined();
  });
});

describe('decay', () => {
  it('halves the points every half-life, and never decays without one', () => {
    expect(decayed(20, 0, 10)).toBe(20);
    expect(decayed(20, 10 * DAY, 10)).toBeCloseTo(10, 10);
    expect(decayed(20, 20 * DAY, 10)).toBeCloseTo(5, 10);
    expect(decayed(20, 365 * DAY)).toBe(20);
    // An event from the future (clock skew) counts in full, never more.
    expect(decayed(20, -DAY, 10)).toBe(20);
  });
});

describe('engagements', () => {
  const submitted = { detailType: 'form.submitted', detail: { formId: 'f1' }, key: 'sub-1', at: iso(NOW) };

  it('match on event type and exact values at dot paths', () => {
    const meeting = rules[5] as Extract<ScoringRuleDefinition, { kind: 'engagement' }>;
    expect(engagementMatches(meeting, 'activity.updated', { record: { type: 'meeting', status: 'held' } })).toBe(true);
    expect(engagementMatches(meeting, 'activity.updated', { record: { type: 'meeting', status: 'scheduled' } })).toBe(
      false,
    );
    expect(engagementMatches(meeting, 'activity.created', { record: { type: 'meeting', status: 'held' } })).toBe(false);
  });

  it('count each event once per rule, and keep the newest MAX_ENGAGEMENTS', () => {
    const once = addEngagements([], rules, submitted);
    expect(once).toEqual([{ ruleId: 'form', key: 'form:sub-1', at: iso(NOW), points: 20, halfLifeDays: 10 }]);
    expect(addEngagements(once, rules, submitted)).toBe(once);
    expect(addEngagements(once, rules, { ...submitted, detailType: 'lead.updated' })).toBe(once);
    let many: Engagement[] = [];
    for (let i = 0; i < MAX_ENGAGEMENTS + 5; i++) {
      many = addEngagements(many, rules, { ...submitted, key: `s${i}`, at: iso(NOW + i * 1000) });
    }
    expect(many).toHaveLength(MAX_ENGAGEMENTS);
    expect(many[0]!.key).toBe(`form:s${MAX_ENGAGEMENTS + 4}`);
    expect(many.some((e) => e.key === 'form:s0')).toBe(false);
  });
});

describe('computeScore', () => {
  it('adds fit points and decayed engagement points, explaining each rule', () => {
    const engagements: Engagement[] = [
      { ruleId: 'form', key: 'form:a', at: iso(NOW - 10 * DAY), points: 20 },
      { ruleId: 'form', key: 'form:b', at: iso(NOW), points: 20 },
      { ruleId: 'meeting-held', key: 'meeting-held:m', at: iso(NOW - 400 * DAY), points: 30 },
      { ruleId: 'removed-rule', key: 'removed-rule:x', at: iso(NOW), points: 99 },
    ];
    const { score, reasons } = computeScore(lead, rules, engagements, NOW);
    expect(reasons).toEqual([
      { ruleId: 'software', kind: 'fit', points: 10, basePoints: 10, detail: 'company.industry' },
      { ruleId: 'dach', kind: 'fit', points: 5, basePoints: 5, detail: 'company.address.country' },
      { ruleId: 'vip', kind: 'fit', points: 3, basePoints: 3, detail: 'tags' },
      { ruleId: 'form', kind: 'engagement', points: 30, basePoints: 40, at: iso(NOW), detail: '2 × form.submitted' },
      {
        ruleId: 'meeting-held',
        kind: 'engagement',
        points: 30,
        basePoints: 30,
        at: iso(NOW - 400 * DAY),
        detail: '1 × activity.updated',
      },
    ]);
    expect(score).toBe(78);
  });

  it('is zero with no rules, and negative points count', () => {
    expect(computeScore(lead, [], [], NOW)).toEqual({ score: 0, reasons: [] });
    const negative: ScoringRuleDefinition[] = [
      {
        id: 'competitor',
        kind: 'fit',
        field: 'company.name',
        condition: { op: 'equals', value: 'engines' },
        points: -50,
      },
    ];
    expect(computeScore(lead, negative, [], NOW).score).toBe(-50);
  });
});

describe('nextDecayPoint', () => {
  it('is when decay alone first moves the rounded score, or undefined when nothing decays', () => {
    const engagements: Engagement[] = [{ ruleId: 'form', key: 'form:a', at: iso(NOW), points: 20 }];
    const next = nextDecayPoint(lead, rules, engagements, NOW)!;
    const before = computeScore(lead, rules, engagements, NOW).score;
    expect(computeScore(lead, rules, engagements, next).score).not.toBe(before);
    expect(computeScore(lead, rules, engagements, next - 120_000).score).toBe(before);
    // 18 fit + 20 decaying points round to 37 once the 20 fall under 19.5: after 10 * log2(20 / 19.5) = 0.365 days.
    expect((next - NOW) / DAY).toBeCloseTo(10 * Math.log2(20 / 19.5), 2);
    expect(nextDecayPoint(lead, rules, [], NOW)).toBeUndefined();
    const held: Engagement[] = [{ ruleId: 'meeting-held', key: 'k', at: iso(NOW), points: 30 }];
    expect(nextDecayPoint(lead, rules, held, NOW)).toBeUndefined();
  });

  it('stops once what is left is worth less than a point for good (within a year)', () => {
    const old: Engagement[] = [{ ruleId: 'form', key: 'form:a', at: iso(NOW - 200 * DAY), points: 20 }];
    expect(nextDecayPoint({}, rules, old, NOW)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { domainOf, firstRoutingRule, foldWords, hasKeyword, routingRuleMatches } from './rules.ts';
import { RoutingRule, RoutingRulesPut, type RoutingRuleView, type RoutingSubject } from './schema.ts';
import { decideRouting } from './service.ts';

const rule = (id: string, conditions: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  RoutingRule.parse({ id, conditions, actions: { teamId: `team-${id}`, method: 'roundRobin' }, ...extra });

const ticket = (overrides: Partial<RoutingSubject> = {}): RoutingSubject => ({
  channel: 'email',
  priority: 'normal',
  subject: 'Question about my invoice',
  ...overrides,
});

describe('keyword matching', () => {
  it('matches whole words and phrases, ignoring case and accents', () => {
    const text = foldWords('Refund please! The café’s card-reader was double-charged.');
    expect(hasKeyword(text, 'REFUND')).toBe(true);
    expect(hasKeyword(text, 'cafe')).toBe(true);
    expect(hasKeyword(text, 'card reader')).toBe(true);
    expect(hasKeyword(text, 'double charged')).toBe(true);
    expect(hasKeyword(text, 'refunded')).toBe(false);
    expect(hasKeyword(text, 'fund')).toBe(false);
    expect(hasKeyword(text, 'reader was double')).toBe(true);
    expect(hasKeyword(text, '!!')).toBe(false);
  });

  it('looks in the subject and the description', () => {
    const r = rule('billing', { keywords: ['invoice', 'charge'] });
    expect(routingRuleMatches(r, ticket({ subject: 'Hello', description: 'An INVOICE is wrong' }))).toBe(true);
    expect(routingRuleMatches(r, ticket({ subject: 'Hello', description: 'invoices' }))).toBe(false);
  });
});

describe('conditions', () => {
  it('holds when every given condition holds (any value of each)', () => {
    const r = rule('vip', { channels: ['email', 'web'], priorities: ['high', 'urgent'], categories: ['Billing'] });
    expect(routingRuleMatches(r, ticket({ priority: 'high', category: 'billing' }))).toBe(true);
    expect(routingRuleMatches(r, ticket({ priority: 'normal', category: 'billing' }))).toBe(false);
    expect(routingRuleMatches(r, ticket({ priority: 'high', channel: 'phone', category: 'billing' }))).toBe(false);
    expect(routingRuleMatches(r, ticket({ priority: 'high' }))).toBe(false);
  });

  it('matches a mailbox, a company and a company tier only when the ticket has them', () => {
    const byMailbox = rule('m', { mailboxIds: ['mb-1'] });
    expect(routingRuleMatches(byMailbox, ticket({ mailboxId: 'mb-1' }))).toBe(true);
    expect(routingRuleMatches(byMailbox, ticket({ mailboxId: 'mb-2' }))).toBe(false);
    expect(routingRuleMatches(byMailbox, ticket())).toBe(false);
    const byCompany = rule('c', { companyIds: ['co-1'] });
    expect(routingRuleMatches(byCompany, ticket({ companyId: 'co-1' }))).toBe(true);
    expect(routingRuleMatches(byCompany, ticket())).toBe(false);
    const byTier = rule('t', { companyTiers: ['Gold', 'platinum'] });
    expect(routingRuleMatches(byTier, ticket({ companyTier: 'GOLD' }))).toBe(true);
    expect(routingRuleMatches(byTier, ticket({ companyTier: 'silver' }))).toBe(false);
    expect(routingRuleMatches(byTier, ticket())).toBe(false);
  });

  it('matches a sender domain and its subdomains, never a look-alike', () => {
    const r = RoutingRule.parse({
      id: 'acme',
      conditions: { senderDomains: ['ACME.com'] },
      actions: { teamId: 't', method: 'leastBusy' },
    });
    expect(r.conditions.senderDomains).toEqual(['acme.com']);
    expect(routingRuleMatches(r, ticket({ senderEmails: ['ann@acme.com'] }))).toBe(true);
    expect(routingRuleMatches(r, ticket({ senderEmails: ['x@gmail.com', 'ann@EU.Acme.com'] }))).toBe(true);
    expect(routingRuleMatches(r, ticket({ senderEmails: ['ann@notacme.com'] }))).toBe(false);
    expect(routingRuleMatches(r, ticket({ senderEmails: [] }))).toBe(false);
    expect(domainOf('broken@')).toBeUndefined();
  });

  it('without conditions matches every ticket; inactive rules never match', () => {
    expect(routingRuleMatches(rule('all'), ticket())).toBe(true);
    const rules: RoutingRuleView[] = [
      rule('off', {}, { active: false }),
      rule('web', { channels: ['web'] }),
      rule('all'),
    ];
    expect(firstRoutingRule(rules, ticket({ channel: 'web' }))?.id).toBe('web');
    expect(firstRoutingRule(rules, ticket())?.id).toBe('all');
  });
});

describe('decideRouting', () => {
  const doc = (rules: RoutingRuleView[], fallbackTeamId?: string) => ({
    rules,
    ...(fallbackTeamId ? { fallbackTeamId } : {}),
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });

  it("takes the first matching rule's team, priority and method", () => {
    const urgent = RoutingRule.parse({
      id: 'outage',
      conditions: { keywords: ['outage', 'down'] },
      actions: { teamId: 'ops', priority: 'urgent', method: 'leastBusy' },
    });
    expect(decideRouting(doc([urgent, rule('all')], 'triage'), ticket({ subject: 'Site is DOWN' }))).toEqual({
      ruleId: 'outage',
      teamId: 'ops',
      priority: 'urgent',
      method: 'leastBusy',
      fallback: false,
    });
    // A rule without a priority keeps the ticket's.
    expect(decideRouting(doc([urgent, rule('all')]), ticket({ priority: 'low' }))).toMatchObject({
      ruleId: 'all',
      priority: 'low',
    });
  });

  it('falls back to the fallback team (or none) when no rule matches', () => {
    const rules = [rule('web', { channels: ['web'] })];
    expect(decideRouting(doc(rules, 'triage'), ticket())).toEqual({
      ruleId: null,
      teamId: 'triage',
      priority: 'normal',
      method: null,
      fallback: true,
    });
    expect(decideRouting(doc(rules), ticket()).teamId).toBeNull();
  });
});

describe('the rules document', () => {
  it('refuses duplicate ids, empty condition lists and unknown fields', () => {
    const actions = { teamId: 't', method: 'roundRobin' };
    expect(
      RoutingRulesPut.safeParse({
        rules: [
          { id: 'a', actions },
          { id: 'a', actions },
        ],
      }).success,
    ).toBe(false);
    expect(RoutingRulesPut.safeParse({ rules: [{ id: 'a', conditions: { keywords: [] }, actions }] }).success).toBe(
      false,
    );
    expect(RoutingRulesPut.safeParse({ rules: [{ id: 'a', conditions: { colour: ['red'] }, actions }] }).success).toBe(
      false,
    );
    expect(RoutingRulesPut.safeParse({ rules: [{ id: 'a', actions: { ...actions, method: 'random' } }] }).success).toBe(
      false,
    );
    expect(RoutingRulesPut.parse({ rules: [{ id: 'a', actions }] }).rules[0]).toMatchObject({
      active: true,
      conditions: {},
    });
  });
});

import { describe, expect, it } from 'vitest';
import { firstMatchingRule, foldPostalCode, foldRegion, ruleMatches } from './rules.ts';
import { AssignmentRule, AssignmentRulesPut, type AssignmentRuleView } from './schema.ts';

const rule = (overrides: Record<string, unknown> = {}): AssignmentRuleView =>
  AssignmentRule.parse({ id: 'r', entities: ['contact'], teamId: 'team-1', method: 'roundRobin', ...overrides });

describe('rule matching', () => {
  it('applies only to the rule’s entities', () => {
    const r = rule({ entities: ['lead', 'deal'] });
    expect(ruleMatches(r, { entity: 'lead' })).toBe(true);
    expect(ruleMatches(r, { entity: 'deal' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact' })).toBe(false);
  });

  it('matches everything of its entities without conditions', () => {
    expect(ruleMatches(rule(), { entity: 'contact' })).toBe(true);
    expect(ruleMatches(rule(), { entity: 'contact', country: 'DE', source: 'form' })).toBe(true);
  });

  it('matches countries case-insensitively, and never a record without a country', () => {
    const r = rule({ conditions: { countries: ['de', 'AT'] } });
    expect(r.conditions.countries).toEqual(['DE', 'AT']);
    expect(ruleMatches(r, { entity: 'contact', country: 'de' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', country: 'AT' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', country: 'CH' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact' })).toBe(false);
  });

  it('matches regions ignoring case, accents and separators', () => {
    expect(foldRegion('  Île-de-France ')).toBe('ile de france');
    const r = rule({ conditions: { regions: ['Île-de-France', 'Bavaria'] } });
    expect(ruleMatches(r, { entity: 'contact', region: 'ile de france' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', region: 'BAVARIA' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', region: 'Bavarian Alps' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact' })).toBe(false);
  });

  it('matches postal-code prefixes ignoring case, spaces and dashes', () => {
    expect(foldPostalCode('sw1a 1aa')).toBe('SW1A1AA');
    const r = rule({ conditions: { postalCodePrefixes: ['SW1', '80-', '9'] } });
    expect(ruleMatches(r, { entity: 'contact', postalCode: 'sw1a 1aa' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', postalCode: '80331' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', postalCode: '94-105' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', postalCode: 'S W' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact', postalCode: '1080' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact', postalCode: '' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact' })).toBe(false);
  });

  it('matches lead sources case-insensitively', () => {
    const r = rule({ entities: ['lead'], conditions: { sources: ['Form', 'email'] } });
    expect(ruleMatches(r, { entity: 'lead', source: 'form' })).toBe(true);
    expect(ruleMatches(r, { entity: 'lead', source: 'EMAIL' })).toBe(true);
    expect(ruleMatches(r, { entity: 'lead', source: 'import' })).toBe(false);
    expect(ruleMatches(r, { entity: 'lead' })).toBe(false);
  });

  it('needs every given condition (country and postal prefix together)', () => {
    const r = rule({ conditions: { countries: ['GB'], postalCodePrefixes: ['SW'] } });
    expect(ruleMatches(r, { entity: 'contact', country: 'GB', postalCode: 'SW1A 1AA' })).toBe(true);
    expect(ruleMatches(r, { entity: 'contact', country: 'GB', postalCode: 'EC1A 1BB' })).toBe(false);
    expect(ruleMatches(r, { entity: 'contact', country: 'IE', postalCode: 'SW1' })).toBe(false);
  });

  it('takes the first active match, in order', () => {
    const rules = [
      rule({ id: 'off', active: false }),
      rule({ id: 'london', conditions: { postalCodePrefixes: ['SW', 'EC'] } }),
      rule({ id: 'uk', conditions: { countries: ['GB'] } }),
      rule({ id: 'rest' }),
    ];
    expect(firstMatchingRule(rules, { entity: 'contact', country: 'GB', postalCode: 'SW1' })?.id).toBe('london');
    expect(firstMatchingRule(rules, { entity: 'contact', country: 'GB', postalCode: 'M1' })?.id).toBe('uk');
    expect(firstMatchingRule(rules, { entity: 'contact', country: 'FR' })?.id).toBe('rest');
    expect(firstMatchingRule(rules, { entity: 'deal' })).toBeUndefined();
    expect(firstMatchingRule([], { entity: 'contact' })).toBeUndefined();
  });
});

describe('rule validation', () => {
  it('defaults conditions and active, and de-duplicates entities', () => {
    const r = rule({ entities: ['contact', 'contact'] });
    expect(r).toMatchObject({ entities: ['contact'], conditions: {}, active: true });
  });

  it('refuses duplicate ids, empty condition lists, unknown methods and bad ids', () => {
    const base = { id: 'a', entities: ['contact'], teamId: 't', method: 'roundRobin' };
    expect(AssignmentRulesPut.safeParse({ rules: [base, base] }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, conditions: { countries: [] } }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, method: 'random' }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, id: 'Has Space' }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, entities: [] }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, conditions: { countries: ['DEU'] } }).success).toBe(false);
    expect(AssignmentRule.safeParse({ ...base, extra: 1 }).success).toBe(false);
  });
});

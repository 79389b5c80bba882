import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MULTI_VALUED, resolveMerge, type Side } from './resolve.ts';

describe('resolveMerge', () => {
  const winner = {
    firstName: 'Ada',
    jobTitle: 'Analyst',
    emails: ['ada@a.example'],
    tags: ['vip'],
    customFields: { tier: 'gold', region: 'eu' },
  };
  const loser = {
    firstName: 'Augusta',
    lastName: 'King',
    jobTitle: 'Countess',
    emails: ['ada@b.example', 'ada@a.example'],
    phones: ['+14155550100'],
    tags: ['math'],
    customFields: { tier: 'silver', score: 3 },
  };

  it('keeps the winner’s values, fills its empty fields from the loser and unites multi-valued fields', () => {
    expect(resolveMerge('contact', winner, loser)).toEqual({
      firstName: 'Ada',
      lastName: 'King',
      jobTitle: 'Analyst',
      emails: ['ada@a.example', 'ada@b.example'],
      phones: ['+14155550100'],
      tags: ['vip', 'math'],
      customFields: { tier: 'gold', region: 'eu', score: 3 },
    });
  });

  it('honours explicit choices, even of an empty value, and puts the chosen side first in lists', () => {
    const merged = resolveMerge('contact', winner, loser, {
      firstName: 'loser',
      lastName: 'winner',
      emails: 'loser',
      customFields: 'loser',
    });
    expect(merged.firstName).toBe('Augusta');
    expect(merged.lastName).toBeUndefined();
    expect(merged.emails).toEqual(['ada@b.example', 'ada@a.example']);
    expect(merged.customFields).toEqual({ tier: 'silver', region: 'eu', score: 3 });
  });

  it('keeps every opt-out of either record, whichever side is chosen', () => {
    const unsubscribed = { status: 'unsubscribed', updatedAt: '2026-11-01T00:00:00.000Z', source: 'one_click' };
    const subscribed = { status: 'subscribed', updatedAt: '2026-11-02T00:00:00.000Z', source: 'api' };
    const merged = resolveMerge(
      'contact',
      { consent: { email: 'granted', sms: 'granted' }, subscriptions: { news: subscribed, events: subscribed } },
      { consent: { email: 'withdrawn', sms: 'granted' }, subscriptions: { news: unsubscribed } },
      { consent: 'winner', subscriptions: 'winner' },
    );
    expect(merged.consent).toEqual({ email: 'withdrawn', sms: 'granted' });
    expect(merged.subscriptions).toEqual({ news: unsubscribed, events: subscribed });
    const loserOptedIn = resolveMerge(
      'contact',
      { consent: { email: 'withdrawn' }, subscriptions: { news: unsubscribed } },
      { consent: { email: 'granted' }, subscriptions: { news: subscribed } },
      { consent: 'loser', subscriptions: 'loser' },
    );
    expect(loserOptedIn.consent).toEqual({ email: 'withdrawn' });
    expect(loserOptedIn.subscriptions).toEqual({ news: unsubscribed });
  });

  it('refuses, rather than cuts, a union over the limit', () => {
    const many = (p: string) => Array.from({ length: 6 }, (_, i) => `${p}${i}@x.example`);
    expect(() => resolveMerge('contact', { emails: many('a') }, { emails: many('b') })).toThrow(/limit/);
  });

  it('never loses a value the request kept (property)', () => {
    const scalar = fc.option(fc.string({ maxLength: 5 }), { nil: undefined });
    const list = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 5 });
    const record = fc.record(
      {
        firstName: scalar,
        jobTitle: scalar,
        emails: list,
        tags: list,
        customFields: fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.integer()),
      },
      { requiredKeys: [] },
    );
    const side = fc.constantFrom<Side>('winner', 'loser');
    const choices = fc.record(
      { firstName: side, jobTitle: side, emails: side, customFields: side },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(record, record, choices, (w, l, c) => {
        const merged = resolveMerge('contact', w, l, c);
        const of = (s: Side) => (s === 'winner' ? w : l) as Record<string, unknown>;
        for (const field of ['firstName', 'jobTitle'] as const) {
          const chosen = c[field];
          const expected = chosen ? of(chosen)[field] : w[field] || l[field];
          expect(merged[field] || undefined).toEqual(expected || undefined);
        }
        for (const field of Object.keys(MULTI_VALUED.contact).filter((f) => f in w || f in l)) {
          const all = [
            ...((w as Record<string, string[]>)[field] ?? []),
            ...((l as Record<string, string[]>)[field] ?? []),
          ];
          for (const value of all) expect(merged[field]).toContain(value);
        }
        const chosenMap = of(c.customFields ?? 'winner').customFields as Record<string, number> | undefined;
        for (const [k, v] of Object.entries(chosenMap ?? {}))
          expect((merged.customFields as Record<string, number>)[k]).toBe(v);
        for (const k of [...Object.keys(w.customFields ?? {}), ...Object.keys(l.customFields ?? {})])
          expect(merged.customFields).toHaveProperty(k);
      }),
    );
  });
});

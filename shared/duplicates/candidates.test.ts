import { describe, expect, it } from 'vitest';
import { matchKeysOf, nameFingerprint, pairIdOf } from './candidates.ts';

describe('nameFingerprint', () => {
  it('folds accents, case, punctuation and spacing of first + last name', () => {
    expect(nameFingerprint('contact', { firstName: 'Zoë', lastName: "O'Brien-Smith " })).toBe('zoe obriensmith');
    expect(nameFingerprint('contact', { firstName: 'ZOE', lastName: 'obrien  smith' })).toBe('zoe obrien smith');
  });

  it('needs both names for a contact (a first name alone pairs too much)', () => {
    expect(nameFingerprint('contact', { firstName: 'Ada' })).toBeUndefined();
    expect(nameFingerprint('contact', { lastName: 'Lovelace' })).toBeUndefined();
  });

  it('drops legal forms from company names, and gives nothing for a name of legal forms only', () => {
    expect(nameFingerprint('company', { name: 'Acme, Inc.' })).toBe('acme');
    expect(nameFingerprint('company', { name: 'ACME GmbH & Co. KG' })).toBe('acme kg');
    expect(nameFingerprint('company', { name: 'Ltd.' })).toBeUndefined();
  });
});

describe('matchKeysOf', () => {
  it('lists emails, phones and the name of a live contact; nothing once deleted or merged', () => {
    const contact = { firstName: 'Ada', lastName: 'Lovelace', emails: ['a@x.example'], phones: ['+14155550100'] };
    expect(matchKeysOf('contact', contact)).toEqual(['email:a@x.example', 'phone:+14155550100', 'name:ada lovelace']);
    expect(matchKeysOf('contact', { ...contact, deletedAt: 'x' })).toEqual([]);
    expect(matchKeysOf('contact', { ...contact, mergedInto: 'y' })).toEqual([]);
    expect(matchKeysOf('company', { name: 'Globex', domains: ['globex.example'] })).toEqual([
      'domain:globex.example',
      'name:globex',
    ]);
  });

  it('names a pair the same from either side', () => {
    expect(pairIdOf('contact', 'B', 'A')).toBe(pairIdOf('contact', 'A', 'B'));
    expect(pairIdOf('contact', 'A', 'B')).toBe('contact.A.B');
  });
});

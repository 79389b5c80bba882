import { describe, expect, it } from 'vitest';
import { measure, porterStem } from './stemmer.ts';
import {
  foldedWords,
  indexTerms,
  MAX_QUERY_WORDS,
  MAX_TOKENS_PER_ARTICLE,
  queryWords,
  TITLE_WEIGHT,
  ticketWords,
  tokenOf,
} from './text.ts';

describe('the Porter stemmer, against the examples of Porter (1980)', () => {
  // Each pair is from the paper's step-by-step examples (or its published vocabulary/output list).
  const cases: Array<[string, string]> = [
    // step 1a
    ['caresses', 'caress'],
    ['ponies', 'poni'],
    ['ties', 'ti'],
    ['caress', 'caress'],
    ['cats', 'cat'],
    // step 1b
    ['feed', 'feed'],
    ['agreed', 'agre'],
    ['plastered', 'plaster'],
    ['bled', 'bled'],
    ['motoring', 'motor'],
    ['sing', 'sing'],
    ['conflated', 'conflat'],
    ['troubled', 'troubl'],
    ['sized', 'size'],
    ['hopping', 'hop'],
    ['tanned', 'tan'],
    ['falling', 'fall'],
    ['hissing', 'hiss'],
    ['fizzed', 'fizz'],
    ['failing', 'fail'],
    ['filing', 'file'],
    // step 1c
    ['happy', 'happi'],
    ['sky', 'sky'],
    // step 2 (through the later steps too)
    ['relational', 'relat'],
    ['conditional', 'condit'],
    ['rational', 'ration'],
    ['valenci', 'valenc'],
    ['digitizer', 'digit'],
    ['radically', 'radic'],
    ['differently', 'differ'],
    ['vilely', 'vile'],
    ['analogously', 'analog'],
    ['vietnamization', 'vietnam'],
    ['predication', 'predic'],
    ['operator', 'oper'],
    ['feudalism', 'feudal'],
    ['decisiveness', 'decis'],
    ['hopefulness', 'hope'],
    ['callousness', 'callous'],
    ['formality', 'formal'],
    ['sensitivity', 'sensit'],
    ['sensibility', 'sensibl'],
    // step 3
    ['triplicate', 'triplic'],
    ['formative', 'form'],
    ['formalize', 'formal'],
    ['electricity', 'electr'],
    ['electrical', 'electr'],
    ['hopeful', 'hope'],
    ['goodness', 'good'],
    // step 4
    ['revival', 'reviv'],
    ['allowance', 'allow'],
    ['inference', 'infer'],
    ['airliner', 'airlin'],
    ['adjustable', 'adjust'],
    ['defensible', 'defens'],
    ['irritant', 'irrit'],
    ['replacement', 'replac'],
    ['adjustment', 'adjust'],
    ['dependent', 'depend'],
    ['adoption', 'adopt'],
    ['homologou', 'homolog'],
    ['communism', 'commun'],
    ['activate', 'activ'],
    ['angularity', 'angular'],
    ['homologous', 'homolog'],
    ['effective', 'effect'],
    ['bowdlerize', 'bowdler'],
    // step 5
    ['probate', 'probat'],
    ['rate', 'rate'],
    ['cease', 'ceas'],
    ['controlling', 'control'],
    ['roll', 'roll'],
    // what users of a help centre type
    ['generalization', 'gener'],
    ['configuration', 'configur'],
    ['configure', 'configur'],
    ['configuring', 'configur'],
    ['connections', 'connect'],
    ['connected', 'connect'],
    ['resetting', 'reset'],
    ['invoices', 'invoic'],
    ['invoice', 'invoic'],
    ['billing', 'bill'],
  ];
  it.each(cases)('%s -> %s', (word, stem) => {
    expect(porterStem(word)).toBe(stem);
  });

  it('counts m as in the paper', () => {
    expect([measure('tr'), measure('ee'), measure('tree'), measure('y'), measure('by')]).toEqual([0, 0, 0, 0, 0]);
    expect([measure('trouble'), measure('oats'), measure('trees'), measure('ivy')]).toEqual([1, 1, 1, 1]);
    expect([measure('troubles'), measure('private'), measure('oaten'), measure('orrery')]).toEqual([2, 2, 2, 2]);
  });

  it('leaves short words and anything but a-z alone', () => {
    expect(porterStem('is')).toBe('is');
    expect(porterStem('señor')).toBe('señor');
    expect(porterStem('mp3s')).toBe('mp3s');
  });
});

describe('tokenizing', () => {
  it('folds accents and case, splits on punctuation, drops one-character words, cuts long ones', () => {
    expect(foldedWords('Café RÉSUMÉ, naïve—co-op; a I x2 ÆØ')).toEqual([
      'cafe',
      'resume',
      'naive',
      'co',
      'op',
      'x2',
      'æø',
    ]);
    expect(foldedWords('x'.repeat(50))).toEqual(['x'.repeat(32)]);
  });

  it('drops English stop words and stems English locales only', () => {
    expect(tokenOf('the', 'en')).toBeUndefined();
    expect(tokenOf('resetting', 'en-GB')).toBe('reset');
    expect(tokenOf('the', 'de-DE')).toBe('the');
    expect(tokenOf('zurücksetzen', 'de')).toBe('zurücksetzen');
  });

  it('weighs title words 5 and body words 1, keeping the longest word seen as the surface', () => {
    const terms = indexTerms(
      'Reset your password',
      'To reset a forgotten password, open Settings. Resetting takes a minute.',
      'en',
    );
    expect(terms.slice(0, 2)).toEqual([
      { token: 'reset', weight: TITLE_WEIGHT + 2, surface: 'resetting' },
      { token: 'password', weight: TITLE_WEIGHT + 1, surface: 'password' },
    ]);
    expect(terms.map((t) => t.token).sort()).toEqual(
      ['forgotten', 'minut', 'open', 'password', 'reset', 'set', 'take'].sort(),
    );
  });

  it(`keeps the ${MAX_TOKENS_PER_ARTICLE} heaviest tokens, ties by token, the same way every time`, () => {
    const body = Array.from({ length: 100 }, (_, i) => `w${String(i).padStart(3, '0')}`).join(' ');
    const terms = indexTerms('w099 w098', body, 'en');
    expect(terms).toHaveLength(MAX_TOKENS_PER_ARTICLE);
    expect(terms.slice(0, 3).map((t) => t.token)).toEqual(['w098', 'w099', 'w000']);
    expect(terms.at(-1)!.token).toBe('w037');
    expect(indexTerms('w099 w098', body, 'en')).toEqual(terms);
  });
});

describe('query words', () => {
  it('makes the last word a prefix while it is being typed', () => {
    expect(queryWords('Password res', 'en')).toEqual([{ token: 'password' }, { token: 're', prefix: 'res' }]);
    expect(queryWords('password reset ', 'en')).toEqual([{ token: 'password' }, { token: 'reset' }]);
    expect(queryWords('how to th', 'en')).toEqual([{ token: 'th', prefix: 'th' }]);
    expect(queryWords('how to', 'en')).toEqual([{ token: '', prefix: 'to' }]);
  });

  it('de-duplicates by token and keeps the typed word when capping', () => {
    expect(queryWords('invoices invoice invoicing', 'en')).toEqual([
      { token: 'invoic' },
      { token: 'invoic', prefix: 'invoicing' },
    ]);
    const many = queryWords('alpha bravo charlie delta echo foxtrot golf hotel india juliet', 'en');
    expect(many).toHaveLength(MAX_QUERY_WORDS);
    expect(many.at(-1)).toEqual({ token: 'juliet', prefix: 'juliet' });
  });

  it('takes a ticket heaviest words, its subject like a title', () => {
    expect(ticketWords('Cannot reset password', 'I tried to reset it twice.', 'en')).toEqual([
      // reset 5 + 1; cannot and password 5 each (ties by token); tried and twice 1 each
      { token: 'reset' },
      { token: 'cannot' },
      { token: 'password' },
      { token: 'tri' },
      { token: 'twice' },
    ]);
  });
});

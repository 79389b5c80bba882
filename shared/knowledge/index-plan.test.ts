import { describe, expect, it } from 'vitest';
import type { ItemWrite } from '../db/store.ts';
import { rankMatches, type StoredArticle, tokenWrites } from './service.ts';
import { indexTerms } from './text.ts';

/** What the write plan does, in short: `put <token>@<status>/<locale>` or `delete <token>`. */
const plan = (writes: ItemWrite[]) =>
  writes.map((w) =>
    'put' in w
      ? `put ${w.item.token}@${String(w.item.gsi2pk).split('#')[2]}/${String(w.item.gsi2pk).split('#')[4]}`
      : 'delete' in w
        ? `delete ${w.key.token}`
        : 'check',
  );

function article(title: string, body: string, overrides: Partial<StoredArticle> = {}): StoredArticle {
  const locale = overrides.locale ?? 'en';
  return {
    tenantId: 't1',
    articleId: '01HZARTICLE',
    title,
    sortName: title.toLowerCase(),
    body,
    status: 'published',
    locale,
    categories: [],
    tags: [],
    searchTerms: indexTerms(title, body, locale),
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('the token delta of a write', () => {
  it('a new article puts every token, with its keys', () => {
    const writes = tokenWrites(article('Webhooks', 'Webhooks retry.'), undefined);
    expect(plan(writes)).toEqual(['put webhook@published/en', 'put retri@published/en']);
    expect(writes[0]).toMatchObject({
      put: 'kbToken',
      item: {
        tenantId: 't1',
        articleId: '01HZARTICLE',
        token: 'webhook',
        weight: 6,
        surface: 'webhooks',
        gsi2pk: 't1#kb#published#token#en#webhook',
        gsi2sk: '993#01HZARTICLE',
        gsi3pk: 't1#kb#published#prefix#en#we',
        gsi3sk: 'webhooks#01HZARTICLE',
      },
    });
  });

  it('an edit puts only new or re-weighted tokens and deletes lost ones', () => {
    const before = article('Webhooks', 'Webhooks retry failed deliveries.');
    // webhook 6 -> 7 (re-weighted), retri and fail unchanged, deliveri lost, sign new
    const after = article('Webhooks', 'Webhooks retry failed, signed webhooks.');
    expect(plan(tokenWrites(after, before))).toEqual([
      'put webhook@published/en',
      'put sign@published/en',
      'delete deliveri',
    ]);
    expect(tokenWrites(before, before)).toEqual([]);
  });

  it('a status or locale change moves every token (puts over the same keys, no deletes)', () => {
    const before = article('Webhooks', 'Webhooks retry.');
    expect(plan(tokenWrites({ ...before, status: 'draft' }, before))).toEqual([
      'put webhook@draft/en',
      'put retri@draft/en',
    ]);
    expect(plan(tokenWrites({ ...before, locale: 'en-GB' }, before))).toEqual([
      'put webhook@published/en-GB',
      'put retri@published/en-GB',
    ]);
  });

  it('a delete removes every token; a restore puts them back', () => {
    const live = article('Webhooks', 'Webhooks retry.');
    const deleted = { ...live, deletedAt: '2026-01-02T00:00:00.000Z' };
    expect(plan(tokenWrites(deleted, live))).toEqual(['delete webhook', 'delete retri']);
    expect(plan(tokenWrites(live, deleted))).toEqual(['put webhook@published/en', 'put retri@published/en']);
  });
});

describe('ranking', () => {
  const words = (...maps: Array<Record<string, number>>) => maps.map((m) => new Map(Object.entries(m)));

  it('ranks by matched words, then summed weights, then the newer id', () => {
    // a: 2 words, 3 + 1 = 4; b: 1 word, 12; c: 2 words, 2 + 2 = 4 (newer id than a); d: 2 words, 6 + 1 = 7
    const ranked = rankMatches(words({ a: 3, b: 12, c: 2, d: 6 }, { a: 1, c: 2, d: 1 }), 10);
    expect(ranked).toEqual([
      ['d', { score: 7, matchedWords: 2 }],
      ['c', { score: 4, matchedWords: 2 }],
      ['a', { score: 4, matchedWords: 2 }],
      ['b', { score: 12, matchedWords: 1 }],
    ]);
    expect(rankMatches(words({ a: 3, b: 12, c: 2, d: 6 }, { a: 1, c: 2, d: 1 }), 2).map(([id]) => id)).toEqual([
      'd',
      'c',
    ]);
    expect(rankMatches([], 5)).toEqual([]);
  });
});

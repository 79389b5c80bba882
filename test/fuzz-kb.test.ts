/**
 * Property-based fuzzing of the knowledge base (articles, search, suggestions): no malformed input gets a 5xx, a
 * refused write changes neither the article nor its search tokens, and after every accepted write the token items
 * are exactly the article's terms (the index never drifts from the text). Handlers are called with API Gateway
 * payload-v2 events against DynamoDB Local. fast-check prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
vi.setConfig({ testTimeout: 90_000 * Math.max(1, SCALE) });

const T = uniqueTenant('fuzzkb');
let kb: Client;
let reader: Client;
let storedArticle: (articleId: string) => Promise<Record<string, unknown>>;
let storedTokens: (articleId: string) => Promise<Array<{ token: string; weight: number; surface: string }>>;
let termsOf: (title: string, body: string, locale: string) => Array<{ token: string; weight: number; surface: string }>;

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('../functions/http/knowledge.ts')).handler;
  kb = apiClient(handler, { tenantId: T, roles: ['admin'], userId: 'fuzzer' });
  reader = apiClient(handler, { tenantId: T, roles: ['readonly'], userId: 'reader' });
  const { model } = await import('../shared/db/store.ts');
  termsOf = (await import('../shared/knowledge/text.ts')).indexTerms;
  storedArticle = async (articleId) =>
    (await model.entities.article.get({ tenantId: T, articleId }).go()).data as unknown as Record<string, unknown>;
  storedTokens = async (articleId) => {
    const { data } = await model.entities.kbToken.query.byArticle({ tenantId: T, articleId }).go({ pages: 'all' });
    return data.map(({ token, weight, surface }) => ({ token, weight, surface }));
  };
});

function expectNo5xx(res: TestResponse, context: string) {
  expect(res.status, `${context} -> ${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(typeof res.body.code).toBe('string');
  }
}

const byToken = <T extends { token: string }>(terms: T[]) =>
  [...terms].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));

/** The article's token items are exactly the terms of its text (or none while it is in the trash). */
async function expectIndexInStep(articleId: string) {
  const article = (await storedArticle(articleId)) as {
    title: string;
    body: string;
    locale: string;
    deletedAt?: string;
  };
  const expected = article.deletedAt ? [] : termsOf(article.title, article.body, article.locale);
  expect(byToken(await storedTokens(articleId))).toEqual(byToken(expected));
}

const NASTY = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '😀',
  'ﷺ'.repeat(120),
  '#',
  '%zz',
  '__proto__',
  'constructor',
  'x'.repeat(201),
  'x'.repeat(30_001),
  'en',
  'EN-us',
  'de-CH',
  'zh-Hant-TW',
  'en_US',
  'x-klingon',
  'published',
  'draft',
  'Reset your password',
  'Café naïve résumé',
  '<script>alert(1)</script>',
  '1e400',
  '-0',
];
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 7 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const KEYS = ['title', 'body', 'status', 'locale', 'categories', 'tags', 'id', 'version', 'authorId', '__proto__'];
/** Any keys, junk or plausible values. */
const junkBody = fc.dictionary(
  fc.constantFrom(...KEYS),
  fc.oneof(
    { weight: 3, arbitrary: junk },
    {
      weight: 3,
      arbitrary: fc.constantFrom<unknown>(
        'How to reset a password',
        'Invoices are emailed monthly. Billing > Invoices.',
        'draft',
        'published',
        'en',
        'de',
        ['billing'],
        ['Account', 'account', 'x y'],
        ['vip'],
      ),
    },
    { weight: 2, arbitrary: fc.lorem({ maxCount: 80 }) },
  ),
  { maxKeys: 6 },
);
/** Valid-looking articles, so many writes are accepted and the index is exercised. */
const plausibleBody = fc.record(
  {
    title: fc.oneof(fc.lorem({ maxCount: 6 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })),
    body: fc.oneof(fc.lorem({ maxCount: 120, mode: 'sentences' }), fc.string({ unit: 'grapheme', maxLength: 300 })),
    status: fc.constantFrom('draft', 'published'),
    locale: fc.constantFrom('en', 'en-GB', 'de', 'fr-CA'),
    categories: fc.array(fc.constantFrom('billing', 'Account', 'how to', 'x'), { maxLength: 5 }),
    tags: fc.array(fc.constantFrom('faq', 'new'), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const articleBody = fc.oneof(junkBody, plausibleBody);

async function articleCount(): Promise<number> {
  let count = 0;
  for (const status of ['published', 'draft']) {
    let cursor: string | null = null;
    do {
      const res: TestResponse = await kb(
        'GET',
        `/v1/kb/articles?status=${status}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      );
      count += res.body.items.length;
      cursor = res.body.nextCursor;
    } while (cursor);
  }
  return count;
}

describe('fuzz: knowledge base', () => {
  it('creates: never a 5xx; a refused body stores nothing; an accepted one is indexed exactly', async () => {
    let created = 0;
    const before = await articleCount();
    await fc.assert(
      fc.asyncProperty(articleBody, async (body) => {
        const res = await kb('POST', '/v1/kb/articles', { body });
        expectNo5xx(res, `POST ${JSON.stringify(body).slice(0, 300)}`);
        if (res.status === 201) {
          created += 1;
          expect((await kb('GET', `/v1/kb/articles/${res.body.id}`)).body).toEqual(res.body);
          await expectIndexInStep(res.body.id);
        }
      }),
      { numRuns: runs(100) },
    );
    expect(await articleCount()).toBe(before + created);
  });

  it('patches, deletes and restores: never a 5xx; refused ones change nothing; the index follows the rest', async () => {
    const article = (
      await kb('POST', '/v1/kb/articles', { body: { title: 'Fuzz target', body: 'Start text.', status: 'published' } })
    ).body;
    const path = `/v1/kb/articles/${article.id}`;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PATCH', 'PATCH', 'PATCH', 'DELETE', 'RESTORE'),
        articleBody,
        fc.option(fc.constantFrom('*', 'W/"1"', '"x"', '', '"99"')),
        async (action, body, ifMatch) => {
          const before = await storedArticle(article.id);
          const tokensBefore = await storedTokens(article.id);
          const headers = ifMatch === null ? {} : { headers: { 'if-match': ifMatch } };
          const res =
            action === 'PATCH'
              ? await kb('PATCH', path, { body, ...headers })
              : action === 'DELETE'
                ? await kb('DELETE', path, headers)
                : await kb('POST', `${path}/restore`, headers);
          expectNo5xx(res, `${action} ${JSON.stringify(body).slice(0, 300)} if-match ${ifMatch}`);
          if (res.status >= 400) {
            expect(await storedArticle(article.id)).toEqual(before);
            expect(byToken(await storedTokens(article.id))).toEqual(byToken(tokensBefore));
          } else {
            await expectIndexInStep(article.id);
          }
        },
      ),
      { numRuns: runs(100) },
    );
  });

  it('search, suggestions and lists: never a 5xx; readers only ever get published articles', async () => {
    const query = fc.dictionary(
      fc.constantFrom('q', 'locale', 'status', 'limit', 'category', 'inTrash', 'cursor', 'x'),
      fc.oneof(
        fc.constantFrom(...NASTY, '5', '0', '26', 'true', 'eyJwayI6IngifQ', 'password res', 'invoi'),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(query, fc.constantFrom('search', 'articles'), async (params, path) => {
        const qs = new URLSearchParams(params as Record<string, string>).toString();
        const res = await reader('GET', `/v1/kb/${path}?${qs}`);
        expectNo5xx(res, `GET ${path}?${qs}`);
        if (res.status === 200 && !params.inTrash) {
          for (const item of res.body.items) expect(item.status).toBe('published');
        }
      }),
      { numRuns: runs(150) },
    );
    const suggestion = fc.dictionary(fc.constantFrom('subject', 'body', 'locale', 'limit', 'x'), junk, { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(suggestion, async (body) => {
        const res = await reader('POST', '/v1/kb/suggestions', { body });
        expectNo5xx(res, `POST suggestions ${JSON.stringify(body).slice(0, 300)}`);
        if (res.status === 200) for (const item of res.body.items) expect(item.status).toBe('published');
      }),
      { numRuns: runs(100) },
    );
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let kbAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let tokensOf: (tenantId: string, articleId: string) => Promise<Array<{ token: string; weight: number }>>;

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('./knowledge.ts')).handler;
  const { model } = await import('../../shared/db/store.ts');
  kbAs = (tenantId, roles = ['manager'], userId = 'editor-1') => apiClient(handler, { tenantId, roles, userId });
  tokensOf = async (tenantId, articleId) => {
    const { data } = await model.entities.kbToken.query.byArticle({ tenantId, articleId }).go({ pages: 'all' });
    return data.map(({ token, weight }) => ({ token, weight }));
  };
});

const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((a) => a.id);
const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function publish(client: Client, body: Record<string, unknown>): Promise<string> {
  const res = await client('POST', '/v1/kb/articles', { body: { status: 'published', ...body } });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('articles: write, read, permissions', () => {
  const tenant = uniqueTenant('kb');

  it('creates a draft with a Location and an ETag; readers do not see drafts', async () => {
    const res = await kbAs(tenant, ['support'])('POST', '/v1/kb/articles', {
      body: { title: ' Exporting contacts ', body: 'Use **Export** in the list.', categories: ['Data', 'data'] },
    });
    expect(res.status).toBe(201);
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/v1/kb/articles/${res.body.id}`);
    expect(res.body).toMatchObject({
      title: 'Exporting contacts',
      status: 'draft',
      locale: 'en',
      categories: ['data'],
      tags: [],
      authorId: 'editor-1',
    });
    expect(res.body.searchTerms).toBeUndefined();
    expect((await kbAs(tenant, ['readonly'])('GET', `/v1/kb/articles/${res.body.id}`)).status).toBe(404);
    expect((await kbAs(tenant, ['support'])('GET', `/v1/kb/articles/${res.body.id}`)).status).toBe(200);
  });

  it('needs kb:publish to publish, unpublish or change a published article', async () => {
    const support = kbAs(tenant, ['support']);
    const refused = await support('POST', '/v1/kb/articles', { body: { title: 'T', body: 'b', status: 'published' } });
    expect(refused.status).toBe(403);
    const draft = await support('POST', '/v1/kb/articles', { body: { title: 'Draft', body: 'b' } });
    const path = `/v1/kb/articles/${draft.body.id}`;
    expect((await support('PATCH', path, { body: { body: 'better' } })).status).toBe(200);
    expect((await support('PATCH', path, { body: { status: 'published' } })).status).toBe(403);
    const published = await kbAs(tenant)('PATCH', path, { body: { status: 'published' } });
    expect(published.status).toBe(200);
    expect(published.body.publishedAt).toBeDefined();
    expect((await support('PATCH', path, { body: { title: 'Changed' } })).status).toBe(403);
    expect((await support('DELETE', path)).status).toBe(403);
    expect(
      (await kbAs(tenant, ['readonly'])('POST', '/v1/kb/articles', { body: { title: 'T', body: 'b' } })).status,
    ).toBe(403);
    const unpublished = await kbAs(tenant)('PATCH', path, { body: { status: 'draft' } });
    expect(unpublished.body.publishedAt).toBeUndefined();
  });

  it('honours If-Match and Idempotency-Key', async () => {
    const client = kbAs(tenant);
    const first = await client('POST', '/v1/kb/articles', {
      body: { title: 'Idempotent', body: 'x' },
      headers: { 'idempotency-key': 'kb-1' },
    });
    const again = await client('POST', '/v1/kb/articles', {
      body: { title: 'Idempotent', body: 'x' },
      headers: { 'idempotency-key': 'kb-1' },
    });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const path = `/v1/kb/articles/${first.body.id}`;
    expect((await client('PATCH', path, { body: { body: 'y' }, headers: { 'if-match': '"7"' } })).status).toBe(412);
    const ok = await client('PATCH', path, { body: { body: 'y' }, headers: { 'if-match': '"1"' } });
    expect(ok.headers.etag).toBe('"2"');
    expect((await client('DELETE', path, { headers: { 'if-match': '"1"' } })).status).toBe(412);
  });

  it('refuses bad input with field errors', async () => {
    const client = kbAs(tenant);
    const res = await client('POST', '/v1/kb/articles', {
      body: {
        title: '',
        body: 'x'.repeat(30_001),
        locale: 'english please',
        categories: ['a', 'b', 'c', 'd', 'e', 'f'],
        extra: 1,
      },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(
      expect.arrayContaining(['body.title', 'body.body', 'body.locale', 'body.categories']),
    );
    const canonical = await client('POST', '/v1/kb/articles', {
      body: { title: 'Locale', body: 'x', locale: 'EN-gb' },
    });
    expect(canonical.body.locale).toBe('en-GB');
  });
});

describe('search', () => {
  const tenant = uniqueTenant('kbs');
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const client = kbAs(tenant);
    ids.reset = await publish(client, {
      title: 'Reset your password',
      body: 'Open Settings, choose Security and click Reset password. Resetting signs you out everywhere.',
      categories: ['account'],
    });
    ids.signIn = await publish(client, {
      title: 'Signing in with SSO',
      body: 'If your password manager fills an old password, reset the saved entry.',
      categories: ['account'],
    });
    ids.invoices = await publish(client, {
      title: 'Downloading invoices',
      body: 'Billing > Invoices lists every invoice as a PDF.',
      categories: ['billing'],
    });
    ids.cafe = await publish(client, { title: 'Café opening hours', body: 'Our café opens at nine.' });
    ids.german = await publish(client, {
      title: 'Passwort zurücksetzen',
      body: 'Öffnen Sie die Einstellungen.',
      locale: 'de',
    });
    ids.draft = (
      await client('POST', '/v1/kb/articles', { body: { title: 'Password policy (draft)', body: 'Rotate passwords.' } })
    ).body.id;
  });

  const search = async (query: string, roles = ['readonly']) => {
    const res = await kbAs(tenant, roles)('GET', `/v1/kb/search?${query}`);
    expect(res.status).toBe(200);
    return res;
  };

  it('ranks title matches above body matches, by summed weights', async () => {
    const res = await search('q=password%20reset%20');
    expect(idsOf(res)).toEqual([ids.reset, ids.signIn]);
    // reset: title 5 + body "reset", "resetting" 2 = 7; password: title 5 + body 1 = 6
    expect(res.body.items[0]).toMatchObject({ title: 'Reset your password', score: 13, matchedWords: 2 });
    // signIn: password 2 (body twice) + reset 1 (body)
    expect(res.body.items[1]).toMatchObject({ score: 3, matchedWords: 2 });
  });

  it('stems (resetting, passwords), folds accents and case, and matches the last word as a prefix', async () => {
    expect(idsOf(await search('q=RESETTING%20Passwords%20'))).toEqual([ids.reset, ids.signIn]);
    expect(idsOf(await search('q=cafe'))).toEqual([ids.cafe]);
    expect(idsOf(await search('q=invoi'))).toEqual([ids.invoices]);
    expect(idsOf(await search('q=downl'))).toEqual([ids.invoices]);
    // the prefix applies only to a word still being typed
    expect(idsOf(await search('q=invoi%20'))).toEqual([]);
  });

  it('searches one locale at a time', async () => {
    expect(idsOf(await search('q=passwort'))).toEqual([]);
    expect(idsOf(await search('q=passwort%20zur&locale=de'))).toEqual([ids.german]);
  });

  it('shows drafts only to editors who ask', async () => {
    expect(idsOf(await search('q=rotate%20'))).toEqual([]);
    expect((await kbAs(tenant, ['readonly'])('GET', '/v1/kb/search?q=rotate&status=draft')).status).toBe(403);
    expect(idsOf(await search('q=rotate&status=draft', ['support']))).toEqual([ids.draft]);
  });

  it('caps results at limit and refuses bad queries', async () => {
    expect(idsOf(await search('q=password&limit=1'))).toEqual([ids.reset]);
    const client = kbAs(tenant, ['readonly']);
    expect((await client('GET', '/v1/kb/search?q=x&limit=26')).status).toBe(400);
    expect((await client('GET', '/v1/kb/search')).status).toBe(400);
    expect((await client('GET', '/v1/kb/search?q=x&locale=not%20a%20locale')).status).toBe(400);
    // only stop words and one-letter words: nothing to look for, nothing found
    expect(idsOf(await search('q=the%20a%20'))).toEqual([]);
  });

  it('never shows another tenant', async () => {
    const other = await kbAs(uniqueTenant('kbo'), ['readonly'])('GET', '/v1/kb/search?q=password');
    expect(other.body.items).toEqual([]);
  });

  it('suggests published articles for a ticket', async () => {
    const client = kbAs(tenant, ['support']);
    const res = await client('POST', '/v1/kb/suggestions', {
      body: { subject: 'Cannot reset my password', body: 'I clicked reset but nothing happened.' },
    });
    expect(res.status).toBe(200);
    expect(idsOf(res)).toEqual([ids.reset, ids.signIn]);
    const invoices = await client('POST', '/v1/kb/suggestions', {
      body: { subject: 'Where is my invoice?', limit: 1 },
    });
    expect(idsOf(invoices)).toEqual([ids.invoices]);
    const empty = await client('POST', '/v1/kb/suggestions', { body: { subject: ' ', body: '' } });
    expect(empty.status).toBe(400);
  });
});

describe('the token index follows every write', () => {
  const tenant = uniqueTenant('kbi');
  const search = async (q: string, status = 'published') =>
    idsOf(await kbAs(tenant)('GET', `/v1/kb/search?q=${encodeURIComponent(q)}&status=${status}`));

  it('changes only what changed, and empties on delete, refills on restore', async () => {
    const client = kbAs(tenant);
    const id = await publish(client, { title: 'Webhooks', body: 'Webhooks retry failed deliveries.' });
    const path = `/v1/kb/articles/${id}`;
    expect((await tokensOf(tenant, id)).map((t) => t.token).sort()).toEqual(['deliveri', 'fail', 'retri', 'webhook']);
    expect(await search('retry ')).toEqual([id]);

    await client('PATCH', path, { body: { body: 'Webhooks are signed.' } });
    expect(await tokensOf(tenant, id)).toEqual(
      expect.arrayContaining([
        { token: 'webhook', weight: 6 },
        { token: 'sign', weight: 1 },
      ]),
    );
    expect(await tokensOf(tenant, id)).toHaveLength(2);
    expect(await search('retry ')).toEqual([]);
    expect(await search('signed ')).toEqual([id]);

    await client('PATCH', path, { body: { status: 'draft' } });
    expect(await search('signed ')).toEqual([]);
    expect(await search('signed ', 'draft')).toEqual([id]);

    expect((await client('DELETE', path)).status).toBe(204);
    expect(await tokensOf(tenant, id)).toEqual([]);
    expect(await search('signed ', 'draft')).toEqual([]);
    const trash = await client('GET', '/v1/kb/articles?inTrash=true');
    expect(idsOf(trash)).toEqual([id]);
    expect((await client('GET', path)).status).toBe(404);

    const restored = await client('POST', `/v1/kb/articles/${id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body.status).toBe('draft');
    expect(await tokensOf(tenant, id)).toHaveLength(2);
    expect(await search('signed ', 'draft')).toEqual([id]);
    expect((await client('POST', `/v1/kb/articles/${id}/restore`)).status).toBe(409);
  });

  it('keeps the index equal to the winner of concurrent edits', async () => {
    const client = kbAs(tenant);
    const id = await publish(client, { title: 'Race', body: 'Original words here.' });
    const path = `/v1/kb/articles/${id}`;
    const bodies = ['Alpha bravo charlie.', 'Delta echo foxtrot.', 'Golf hotel india.', 'Juliet kilo lima.'];
    const results = await Promise.all(bodies.map((body) => client('PATCH', path, { body: { body } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    for (const status of statuses) expect([200, 409, 412]).toContain(status);
    const stored = await client('GET', path);
    const { indexTerms } = await import('../../shared/knowledge/text.ts');
    const expected = indexTerms(stored.body.title, stored.body.body, 'en').map(({ token, weight }) => ({
      token,
      weight,
    }));
    const byToken = (a: { token: string }, b: { token: string }) => a.token.localeCompare(b.token);
    expect((await tokensOf(tenant, id)).sort(byToken)).toEqual(expected.sort(byToken));
  });

  it('replaces all 40 tokens, the status and 5 categories in one transaction (the largest write)', async () => {
    const client = kbAs(tenant);
    const words = (prefix: string) => Array.from({ length: 60 }, (_, i) => `${prefix}${i}x`).join(' ');
    const id = await publish(client, {
      title: 'Big',
      body: words('alpha'),
      categories: ['c1', 'c2', 'c3', 'c4', 'c5'],
    });
    expect(await tokensOf(tenant, id)).toHaveLength(40);
    const res = await client('PATCH', `/v1/kb/articles/${id}`, {
      body: { title: 'Huge', body: words('beta'), status: 'draft', categories: ['d1', 'd2', 'd3', 'd4', 'd5'] },
    });
    expect(res.status).toBe(200);
    const tokens = (await tokensOf(tenant, id)).map((t) => t.token);
    expect(tokens).toHaveLength(40);
    expect(tokens.every((t) => t.startsWith('beta') || t === 'huge')).toBe(true);
    expect(await search('beta1x ', 'draft')).toEqual([id]);
    expect(await search('alpha1x ')).toEqual([]);
  });
});

describe('lists', () => {
  const tenant = uniqueTenant('kbl');

  beforeAll(async () => {
    const client = kbAs(tenant);
    await publish(client, { title: 'Apples', body: 'a', categories: ['fruit'], locale: 'en' });
    await publish(client, { title: 'Bananas', body: 'b', categories: ['fruit'], locale: 'en-GB' });
    await publish(client, { title: 'Cherries', body: 'c', categories: ['fruit', 'red'], locale: 'en' });
    await client('POST', '/v1/kb/articles', { body: { title: 'Dates', body: 'd', categories: ['fruit'] } });
  });

  const titlesOf = (res: TestResponse) => (res.body.items as Array<{ title: string }>).map((a) => a.title);

  it('lists published articles by title, page by page', async () => {
    const client = kbAs(tenant, ['readonly']);
    const first = await client('GET', '/v1/kb/articles?limit=2');
    expect(titlesOf(first)).toEqual(['Apples', 'Bananas']);
    const second = await client('GET', `/v1/kb/articles?limit=2&cursor=${first.body.nextCursor}`);
    expect(titlesOf(second)).toEqual(['Cherries']);
    expect(second.body.nextCursor).toBeNull();
  });

  it('by category (summaries), locale, and drafts for editors', async () => {
    const client = kbAs(tenant, ['readonly']);
    const fruit = await client('GET', '/v1/kb/articles?category=Fruit');
    expect(titlesOf(fruit).sort()).toEqual(['Apples', 'Bananas', 'Cherries']);
    expect(fruit.body.items[0].body).toBeUndefined();
    expect(titlesOf(await client('GET', '/v1/kb/articles?category=red'))).toEqual(['Cherries']);
    expect(titlesOf(await client('GET', '/v1/kb/articles?locale=en-gb'))).toEqual(['Bananas']);
    expect((await client('GET', '/v1/kb/articles?status=draft')).status).toBe(403);
    expect((await client('GET', '/v1/kb/articles?inTrash=true')).status).toBe(403);
    const editor = kbAs(tenant, ['support']);
    expect(titlesOf(await editor('GET', '/v1/kb/articles?status=draft'))).toEqual(['Dates']);
    expect(titlesOf(await editor('GET', '/v1/kb/articles?status=draft&category=fruit'))).toEqual(['Dates']);
  });

  it('refuses combined filters and foreign cursors', async () => {
    const client = kbAs(tenant, ['readonly']);
    const both = await client('GET', '/v1/kb/articles?category=fruit&locale=en');
    expect(both.status).toBe(400);
    const other = await kbAs(uniqueTenant('kbx'))('GET', '/v1/kb/articles?limit=1');
    expect(other.body.items).toEqual([]);
    const page = await client('GET', '/v1/kb/articles?limit=1');
    const byLocale = await client('GET', `/v1/kb/articles?limit=1&locale=en&cursor=${page.body.nextCursor}`);
    expect(byLocale.status).toBe(400);
    expect(fieldsOf(byLocale)).toEqual(['query.cursor']);
  });
});

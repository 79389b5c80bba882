import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let subscriptionsAs: (tenantId: string, roles?: string[]) => Client;
let contactsAs: (tenantId: string) => Client;

const PUBLIC = 'https://public.example.test';
const CATEGORIES = [
  { id: 'newsletter', name: 'Newsletter', description: 'Monthly news' },
  { id: 'events', name: 'Events' },
];

beforeAll(async () => {
  await useFreshTable();
  process.env.PUBLIC_API_URL = `${PUBLIC}/`;
  const subscriptions = (await import('./subscription-categories.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  subscriptionsAs = (tenantId, roles = ['marketing']) =>
    apiClient(subscriptions, { tenantId, roles, userId: 'marketer-1' });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['sales'], userId: 'rep-1' });
});

async function withCategories(tenantId: string) {
  const res = await subscriptionsAs(tenantId)('PUT', '/v1/subscription-categories', {
    body: { categories: CATEGORIES },
  });
  expect(res.status).toBe(200);
  return res;
}

describe('subscription categories', () => {
  it('starts empty at version 0, is replaced as a whole under If-Match, and is readable by every role', async () => {
    const tenant = uniqueTenant('subs');
    const empty = await subscriptionsAs(tenant, ['readonly'])('GET', '/v1/subscription-categories');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ categories: [], version: 0 });
    const put = await withCategories(tenant);
    expect(put.body).toMatchObject({ categories: CATEGORIES, version: 1, createdBy: 'marketer-1' });
    expect(put.headers.etag).toBe('"1"');
    const stale = await subscriptionsAs(tenant)('PUT', '/v1/subscription-categories', {
      body: { categories: [] },
      headers: { 'if-match': '"0"' },
    });
    expect(stale.status).toBe(412);
    const next = await subscriptionsAs(tenant)('PUT', '/v1/subscription-categories', {
      body: { categories: [CATEGORIES[1]] },
      headers: { 'if-match': '"1"' },
    });
    expect(next.body).toMatchObject({ categories: [CATEGORIES[1]], version: 2 });
    const got = await subscriptionsAs(tenant, ['support'])('GET', '/v1/subscription-categories');
    expect(got.body.categories).toEqual([CATEGORIES[1]]);
  });

  it('refuses bad lists field by field (400) and roles without subscriptions:manage (403)', async () => {
    const tenant = uniqueTenant('subs');
    const put = (body: unknown, roles?: string[]) =>
      subscriptionsAs(tenant, roles)('PUT', '/v1/subscription-categories', { body });
    const fields = async (body: unknown) =>
      ((await put(body)).body.fieldErrors as Array<{ field: string }>).map((e) => e.field);
    expect(await fields({ categories: [{ id: 'Not A Slug', name: 'x' }] })).toEqual(['body.categories.0.id']);
    expect(await fields({ categories: [{ id: 'a', name: '' }] })).toEqual(['body.categories.0.name']);
    expect(await fields({ categories: [{ id: 'a', name: 'x', extra: 1 }] })).toEqual(['body.categories.0.extra']);
    expect(
      await fields({
        categories: [
          { id: 'a', name: 'x' },
          { id: 'a', name: 'y' },
        ],
      }),
    ).toEqual(['body.categories']);
    const many = Array.from({ length: 51 }, (_, i) => ({ id: `c${i}`, name: `C${i}` }));
    expect(await fields({ categories: many })).toEqual(['body.categories']);
    expect((await put({ categories: CATEGORIES }, ['sales'])).status).toBe(403);
    expect((await put({ categories: CATEGORIES }, ['sales'])).body.code).toBe('auth.forbidden');
  });
});

describe('contact subscriptions', () => {
  it('a PATCH sets choices per category, stamped (when, source api) only when the status changes', async () => {
    const tenant = uniqueTenant('subs');
    await withCategories(tenant);
    const contacts = contactsAs(tenant);
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const id = created.body.id;
    expect(created.body.consent).toMatchObject({ email: 'granted', source: 'api' });

    const first = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { subscriptions: { newsletter: { status: 'unsubscribed' }, events: { status: 'subscribed' } } },
    });
    expect(first.status).toBe(200);
    expect(first.body.subscriptions).toEqual({
      newsletter: { status: 'unsubscribed', updatedAt: expect.any(String), source: 'api' },
      events: { status: 'subscribed', updatedAt: expect.any(String), source: 'api' },
    });
    // Only the named category changes; an unchanged status keeps its stamp.
    const second = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { subscriptions: { events: { status: 'unsubscribed' }, newsletter: { status: 'unsubscribed' } } },
    });
    expect(second.body.subscriptions.newsletter).toEqual(first.body.subscriptions.newsletter);
    expect(second.body.subscriptions.events.status).toBe('unsubscribed');
    expect(second.body.subscriptions.events.updatedAt >= first.body.subscriptions.events.updatedAt).toBe(true);
    // null forgets a category's choice.
    const forgot = await contacts('PATCH', `/v1/contacts/${id}`, { body: { subscriptions: { events: null } } });
    expect(Object.keys(forgot.body.subscriptions)).toEqual(['newsletter']);
    // A PATCH of something else leaves consent's stamp as it was.
    const renamed = await contacts('PATCH', `/v1/contacts/${id}`, { body: { jobTitle: 'Engineer' } });
    expect(renamed.body.consent).toEqual(created.body.consent);
  });

  it('a create may set choices too (stamped), only for categories the tenant has', async () => {
    const tenant = uniqueTenant('subs');
    await withCategories(tenant);
    const contacts = contactsAs(tenant);
    const created = await contacts('POST', '/v1/contacts', {
      body: makeContact({ subscriptions: { events: { status: 'unsubscribed' } } }),
    });
    expect(created.status).toBe(201);
    expect(created.body.subscriptions).toEqual({
      events: { status: 'unsubscribed', updatedAt: expect.any(String), source: 'api' },
    });
    const unknown = await contacts('POST', '/v1/contacts', {
      body: makeContact({ subscriptions: { promotions: { status: 'subscribed' } } }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.fieldErrors[0].field).toBe('body.subscriptions.promotions');
  });

  it('refuses unknown categories and bad statuses (400, nothing stored)', async () => {
    const tenant = uniqueTenant('subs');
    await withCategories(tenant);
    const contacts = contactsAs(tenant);
    const { id, version } = (await contacts('POST', '/v1/contacts', { body: makeContact() })).body;
    const unknown = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { subscriptions: { promotions: { status: 'subscribed' } } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.fieldErrors).toEqual([expect.objectContaining({ field: 'body.subscriptions.promotions' })]);
    const badStatus = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { subscriptions: { newsletter: { status: 'maybe' } } },
    });
    expect(badStatus.status).toBe(400);
    const setsStamp = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { subscriptions: { newsletter: { status: 'subscribed', source: 'one_click' } } },
    });
    expect(setsStamp.status).toBe(400);
    expect((await contacts('GET', `/v1/contacts/${id}`)).body.version).toBe(version);
  });
});

describe('preference links', () => {
  it("gives a live contact's signed links on the public API, with or without a category", async () => {
    const tenant = uniqueTenant('subs');
    await withCategories(tenant);
    const { id } = (await contactsAs(tenant)('POST', '/v1/contacts', { body: makeContact() })).body;
    const links = await subscriptionsAs(tenant, ['sales'])('GET', `/v1/contacts/${id}/preference-links`);
    expect(links.status).toBe(200);
    expect(links.body.oneClickUrl).toMatch(new RegExp(`^${PUBLIC}/v1/unsubscribe/[\\w-]+\\.[\\w-]{43}$`));
    expect(links.body.preferencesUrl).toMatch(new RegExp(`^${PUBLIC}/v1/preferences/[\\w-]+\\.[\\w-]{43}$`));
    expect(links.body.headers).toEqual({
      'List-Unsubscribe': `<${links.body.oneClickUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
    const { verifyUnsubscribeToken } = await import('../../shared/subscriptions/unsubscribe-token.ts');
    const token = links.body.oneClickUrl.split('/').pop();
    expect(await verifyUnsubscribeToken(token)).toEqual({ tenantId: tenant, contactId: id });
    const scoped = await subscriptionsAs(tenant)('GET', `/v1/contacts/${id}/preference-links?categoryId=events`);
    expect(await verifyUnsubscribeToken(scoped.body.oneClickUrl.split('/').pop())).toEqual({
      tenantId: tenant,
      contactId: id,
      categoryId: 'events',
    });
  });

  it('404 for an unknown contact, 400 for an unknown category, 403 without contacts:write', async () => {
    const tenant = uniqueTenant('subs');
    await withCategories(tenant);
    const { id } = (await contactsAs(tenant)('POST', '/v1/contacts', { body: makeContact() })).body;
    const missing = await subscriptionsAs(tenant)('GET', '/v1/contacts/01HZNOSUCHCONTACT/preference-links');
    expect(missing.status).toBe(404);
    const badCategory = await subscriptionsAs(tenant)('GET', `/v1/contacts/${id}/preference-links?categoryId=nope`);
    expect(badCategory.status).toBe(400);
    expect(badCategory.body.fieldErrors[0].field).toBe('query.categoryId');
    expect((await subscriptionsAs(tenant, ['readonly'])('GET', `/v1/contacts/${id}/preference-links`)).status).toBe(
      403,
    );
  });
});

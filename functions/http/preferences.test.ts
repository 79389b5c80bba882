import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string) => Client;
let subscriptionsAs: (tenantId: string) => Client;
let publicClient: Client;
let sign: typeof import('../../shared/subscriptions/unsubscribe-token.ts').signUnsubscribeToken;
let model: typeof import('../../shared/db/store.ts').model;

const CATEGORIES = [
  { id: 'newsletter', name: 'Newsletter', description: 'Monthly <b>news</b>' },
  { id: 'events', name: 'Events & <script>alert(1)</script>' },
];
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ONE_CLICK = 'List-Unsubscribe=One-Click';

beforeAll(async () => {
  await useFreshTable();
  const contacts = (await import('./contacts.ts')).handler;
  const subscriptions = (await import('./subscription-categories.ts')).handler;
  const preferences = (await import('./preferences.ts')).handler;
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['marketing'], userId: 'marketer-1' });
  subscriptionsAs = (tenantId) => apiClient(subscriptions, { tenantId, roles: ['marketing'], userId: 'marketer-1' });
  // Public routes read no token: the claims apiClient adds are never looked at.
  publicClient = apiClient(preferences, { tenantId: 'ignored', roles: [] });
  sign = (await import('../../shared/subscriptions/unsubscribe-token.ts')).signUnsubscribeToken;
  model = (await import('../../shared/db/store.ts')).model;
});

async function setup(contactOverrides: Record<string, unknown> = {}) {
  const tenant = uniqueTenant('pref');
  await subscriptionsAs(tenant)('PUT', '/v1/subscription-categories', { body: { categories: CATEGORIES } });
  const contact = (
    await contactsAs(tenant)('POST', '/v1/contacts', {
      body: makeContact({ emails: ['ada.lovelace@example.com'], ...contactOverrides }),
    })
  ).body;
  const readContact = async () => (await contactsAs(tenant)('GET', `/v1/contacts/${contact.id}`)).body;
  return { tenant, contact, readContact };
}

const multipart = (fields: Record<string, string>) => {
  const boundary = '----formdata-provider-7MA4YWxkTrZu0gW';
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  return {
    rawBody: `${parts.join('')}--${boundary}--\r\n`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
};

function expectPage(res: { status: number; headers: Record<string, string> }, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[\w+/=]+'; /);
  expect(res.headers['content-security-policy']).toContain("form-action 'self'");
  expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('one-click unsubscribe', () => {
  it('a GET shows the confirm page and changes nothing (link scanners)', async () => {
    const { tenant, contact, readContact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id, campaignId: 'camp-1' });
    const page = await publicClient('GET', `/v1/unsubscribe/${token}`);
    expectPage(page, 200);
    expect(page.text).toContain('<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">');
    expect(page.text).toContain('a***@example.com');
    expect(page.text).not.toContain('ada.lovelace');
    expect(page.text).toContain('all marketing email');
    expect(page.text).toContain(`href="../preferences/${token}"`);
    expect((await readContact()).version).toBe(contact.version);
  });

  it('a url-encoded POST withdraws email consent (source one_click, time, campaign), once', async () => {
    const { tenant, contact, readContact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id, campaignId: 'camp-1' });
    const done = await publicClient('POST', `/v1/unsubscribe/${token}`, { rawBody: ONE_CLICK, headers: FORM });
    expectPage(done, 200);
    expect(done.text).toContain('You are unsubscribed');
    const after = await readContact();
    expect(after.consent).toEqual({
      email: 'withdrawn',
      updatedAt: expect.any(String),
      source: 'one_click',
      campaignId: 'camp-1',
    });
    expect(after.version).toBe(contact.version + 1);
    expect(after.updatedBy).toBe(`contact:${contact.id}`);
    // The record's other fields are as they were: the write is the contact's own versioned write.
    expect(after).toMatchObject({ firstName: contact.firstName, emails: contact.emails, tags: contact.tags });
    // Idempotent: a repeat (mail providers retry) answers the same and writes nothing.
    const again = await publicClient('POST', `/v1/unsubscribe/${token}`, { rawBody: ONE_CLICK, headers: FORM });
    expect(again.status).toBe(200);
    expect(again.text).toBe(done.text);
    expect((await readContact()).version).toBe(after.version);
  });

  it("a multipart POST of a category's link unsubscribes from that category only", async () => {
    const { tenant, contact, readContact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id, categoryId: 'newsletter', campaignId: 'c9' });
    const confirm = await publicClient('GET', `/v1/unsubscribe/${token}`);
    expect(confirm.text).toContain('“Newsletter” emails');
    const done = await publicClient('POST', `/v1/unsubscribe/${token}`, multipart({ 'List-Unsubscribe': 'One-Click' }));
    expectPage(done, 200);
    const after = await readContact();
    expect(after.subscriptions).toEqual({
      newsletter: { status: 'unsubscribed', updatedAt: expect.any(String), source: 'one_click', campaignId: 'c9' },
    });
    expect(after.consent.email).toBe('granted');
    // Idempotent: the same answer, nothing written again.
    const again = await publicClient(
      'POST',
      `/v1/unsubscribe/${token}`,
      multipart({ 'List-Unsubscribe': 'One-Click' }),
    );
    expect(again.status).toBe(200);
    expect((await readContact()).version).toBe(after.version);
  });

  it('refuses a body that is not the RFC 8058 one (400) or not a form (415), changing nothing', async () => {
    const { tenant, contact, readContact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id });
    const wrong = await publicClient('POST', `/v1/unsubscribe/${token}`, {
      rawBody: 'List-Unsubscribe=Yes',
      headers: FORM,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.fieldErrors[0].field).toBe('body.List-Unsubscribe');
    const empty = await publicClient('POST', `/v1/unsubscribe/${token}`, { rawBody: '', headers: FORM });
    expect(empty.status).toBe(400);
    const text = await publicClient('POST', `/v1/unsubscribe/${token}`, {
      rawBody: ONE_CLICK,
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    const file = await publicClient('POST', `/v1/unsubscribe/${token}`, {
      rawBody: '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"; filename="x"\r\n\r\nOne-Click\r\n--b--',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
    });
    expect(file.status).toBe(400);
    const big = await publicClient('POST', `/v1/unsubscribe/${token}`, {
      rawBody: `${ONE_CLICK}&x=${'a'.repeat(9000)}`,
      headers: FORM,
    });
    expect(big.status).toBe(413);
    expect((await readContact()).version).toBe(contact.version);
  });
});

describe('a merged contact', () => {
  it("the loser's link unsubscribes the contact it was merged into", async () => {
    const { tenant, contact: winner, readContact } = await setup();
    const loser = (await contactsAs(tenant)('POST', '/v1/contacts', { body: makeContact() })).body;
    const merge = apiClient((await import('./merge.ts')).handler, { tenantId: tenant, roles: ['admin'] });
    expect(
      (await merge('POST', '/v1/contacts/merge', { body: { winnerId: winner.id, loserId: loser.id } })).status,
    ).toBe(200);
    const mergedVersion = (await readContact()).version;
    const token = await sign({ tenantId: tenant, contactId: loser.id, categoryId: 'events' });
    const done = await publicClient('POST', `/v1/unsubscribe/${token}`, { rawBody: ONE_CLICK, headers: FORM });
    expect(done.status).toBe(200);
    const after = await readContact();
    expect(after.version).toBe(mergedVersion + 1);
    expect(after.subscriptions.events).toMatchObject({ status: 'unsubscribed', source: 'one_click' });
  });
});

describe('links that do not work', () => {
  it('every bad, forged, foreign or stale link gets the same 404 page, and no signing key is created', async () => {
    const { tenant, contact } = await setup();
    const other = await setup();
    const genuine = await sign({ tenantId: tenant, contactId: contact.id });
    const [payload, signature] = genuine.split('.') as [string, string];
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unknownTenant = uniqueTenant('nokey');
    const unknownPayload = b64({ v: 1, t: unknownTenant, c: contact.id });
    const deleted = await setup();
    const contactsAdmin = apiClient((await import('./contacts.ts')).handler, {
      tenantId: deleted.tenant,
      roles: ['admin'],
    });
    expect((await contactsAdmin('DELETE', `/v1/contacts/${deleted.contact.id}`)).status).toBe(204);
    const bad = [
      'nonsense',
      `${payload}.${signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${b64({ v: 1, t: tenant, c: 'another-contact' })}.${signature}`,
      // Another tenant's contact under this tenant's signature.
      `${b64({ v: 1, t: other.tenant, c: other.contact.id })}.${signature}`,
      `${unknownPayload}.${createHmac('sha256', Buffer.alloc(32)).update(unknownPayload).digest('base64url')}`,
      // Genuine, but the contact does not exist (any more).
      await sign({ tenantId: tenant, contactId: '01HZNOSUCHCONTACT' }),
      await sign({ tenantId: deleted.tenant, contactId: deleted.contact.id }),
      `${'a'.repeat(5000)}.${signature}`,
    ];
    const pages = new Set<string>();
    for (const token of bad) {
      for (const [method, path, options] of [
        ['GET', `/v1/unsubscribe/${token}`, {}],
        ['POST', `/v1/unsubscribe/${token}`, { rawBody: ONE_CLICK, headers: FORM }],
        ['GET', `/v1/preferences/${token}`, {}],
        ['POST', `/v1/preferences/${token}`, { rawBody: 'form=preferences&unsubscribeAll=true', headers: FORM }],
      ] as const) {
        const res = await publicClient(method, path, options);
        expect(res.status, `${method} ${path}`).toBe(404);
        expectPage(res, 404);
        pages.add(res.text);
      }
    }
    expect(pages.size).toBe(1);
    expect([...pages][0]).toContain('This link is not valid');
    expect((await model.entities.signingKey.get({ tenantId: unknownTenant }).go()).data).toBeNull();
    // The other tenant's contact was not touched.
    expect((await other.readContact()).version).toBe(other.contact.version);
  });
});

describe('preference page', () => {
  it('lists the categories with the contact’s choices, escaped', async () => {
    const { tenant, contact } = await setup();
    await contactsAs(tenant)('PATCH', `/v1/contacts/${contact.id}`, {
      body: { subscriptions: { events: { status: 'unsubscribed' } } },
    });
    const token = await sign({ tenantId: tenant, contactId: contact.id });
    const page = await publicClient('GET', `/v1/preferences/${token}`);
    expectPage(page, 200);
    expect(page.text).toContain('<input type="checkbox" name="categories" value="newsletter" checked> Newsletter');
    expect(page.text).toContain('<input type="checkbox" name="categories" value="events"> Events &amp; &lt;script&gt;');
    expect(page.text).toContain('<small>Monthly &lt;b&gt;news&lt;/b&gt;</small>');
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('name="unsubscribeAll" value="true"');
  });

  it('saves the ticked categories (others unsubscribed, source preference_page), then unsubscribes from all', async () => {
    const { tenant, contact, readContact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id, campaignId: 'camp-7' });
    const saved = await publicClient('POST', `/v1/preferences/${token}`, {
      rawBody: 'form=preferences&categories=events&categories=retired-category',
      headers: FORM,
    });
    expectPage(saved, 200);
    expect(saved.text).toContain('Your preferences are saved.');
    const after = await readContact();
    // "events" had no entry (subscribed by default), so only "newsletter" changed.
    expect(after.subscriptions).toEqual({
      newsletter: {
        status: 'unsubscribed',
        updatedAt: expect.any(String),
        source: 'preference_page',
        campaignId: 'camp-7',
      },
    });
    // The same choices again write nothing.
    await publicClient('POST', `/v1/preferences/${token}`, {
      rawBody: 'form=preferences&categories=events',
      headers: FORM,
    });
    expect((await readContact()).version).toBe(after.version);
    // Ticking newsletter again subscribes it; unticking everything (multipart) unsubscribes both.
    await publicClient(
      'POST',
      `/v1/preferences/${token}`,
      multipart({ form: 'preferences', categories: 'newsletter' }),
    );
    const ticked = await readContact();
    expect(ticked.subscriptions.newsletter.status).toBe('subscribed');
    expect(ticked.subscriptions.events.status).toBe('unsubscribed');
    const all = await publicClient(
      'POST',
      `/v1/preferences/${token}`,
      multipart({ form: 'preferences', unsubscribeAll: 'true' }),
    );
    expect(all.text).toContain('You are unsubscribed from all marketing email.');
    expect(all.text).not.toContain('name="unsubscribeAll"');
    expect((await readContact()).consent).toMatchObject({ email: 'withdrawn', source: 'preference_page' });
  });

  it('refuses a post that is not the page’s form (400)', async () => {
    const { tenant, contact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id });
    for (const rawBody of [
      'categories=events',
      'form=preferences&categories=Not%20A%20Slug',
      'form=preferences&unsubscribeAll=yes',
    ]) {
      const res = await publicClient('POST', `/v1/preferences/${token}`, { rawBody, headers: FORM });
      expect(res.status, rawBody).toBe(400);
    }
  });
});

describe('rate limit', () => {
  it('allows 30 requests per contact per 10 minutes, then answers a 429 page with Retry-After', async () => {
    const { tenant, contact } = await setup();
    const token = await sign({ tenantId: tenant, contactId: contact.id });
    for (let i = 0; i < 30; i++) expect((await publicClient('GET', `/v1/preferences/${token}`)).status).toBe(200);
    const refused = await publicClient('GET', `/v1/unsubscribe/${token}`);
    expectPage(refused, 429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toContain('Too many requests');
    // Per contact: another contact of the same tenant is not held up.
    const second = (await contactsAs(tenant)('POST', '/v1/contacts', { body: makeContact() })).body;
    const otherToken = await sign({ tenantId: tenant, contactId: second.id });
    expect((await publicClient('GET', `/v1/preferences/${otherToken}`)).status).toBe(200);
  });
});

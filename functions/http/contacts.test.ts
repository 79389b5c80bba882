import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
let contacts: ReturnType<typeof apiClient>;
let companiesAs: (tenantId: string) => ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string, roles?: string[], userId?: string) => ReturnType<typeof apiClient>;
let customFieldsAs: (tenantId: string) => ReturnType<typeof apiClient>;
const tenant = uniqueTenant();

beforeAll(async () => {
  await useFreshTable();
  const contactsHandler = (await import('./contacts.ts')).handler;
  const companiesHandler = (await import('./companies.ts')).handler;
  const customFieldsHandler = (await import('./custom-fields.ts')).handler;
  contactsAs = (tenantId, roles = ['sales'], userId = 'user-1') =>
    apiClient(contactsHandler, { tenantId, roles, userId });
  companiesAs = (tenantId) => apiClient(companiesHandler, { tenantId, roles: ['admin'] });
  customFieldsAs = (tenantId) => apiClient(customFieldsHandler, { tenantId, roles: ['admin'] });
  contacts = contactsAs(tenant, ['manager']);
});

describe('contacts: create and get', () => {
  it('creates a contact with normalised values, an ETag and a Location', async () => {
    const res = await contacts('POST', '/v1/contacts', {
      body: makeContact({ emails: ['Ada@Example.COM'], tags: ['VIP', 'vip', 'Math'], phones: ['020 7946 0018'] }),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      firstName: 'Ada',
      emails: ['ada@example.com'],
      tags: ['vip', 'math'],
      phones: ['+442079460018'],
      address: { city: 'London', country: 'GB' },
      consent: { email: 'granted' },
      version: 1,
      customFields: {},
    });
    expect(res.body.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(res.body.consent.updatedAt).toBeDefined();
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/v1/contacts/${res.body.id}`);

    const got = await contacts('GET', `/v1/contacts/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    expect(got.headers.etag).toBe('"1"');
  });

  it('never shows one tenant the contacts of another', async () => {
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const other = contactsAs(uniqueTenant('other'), ['admin']);
    const res = await other('GET', `/v1/contacts/${created.body.id}`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body.code).toBe('contact.not_found');
    const list = await other('GET', `/v1/contacts?email=${encodeURIComponent(created.body.emails[0])}`);
    expect(list.body.items).toEqual([]);
  });

  it('denies by default: readonly cannot write, support cannot delete, no role cannot read', async () => {
    expect((await contactsAs(tenant, ['readonly'])('POST', '/v1/contacts', { body: makeContact() })).status).toBe(403);
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    expect((await contactsAs(tenant, ['support'])('DELETE', `/v1/contacts/${created.body.id}`)).status).toBe(403);
    expect((await contactsAs(tenant, [])('GET', '/v1/contacts')).status).toBe(403);
    expect((await contactsAs(tenant, ['superuser'])('GET', '/v1/contacts')).status).toBe(403);
    expect((await contactsAs(tenant, ['readonly'])('GET', `/v1/contacts/${created.body.id}`)).status).toBe(200);
  });
});

describe('contacts: bad input is refused with field errors and changes nothing', () => {
  const cases: Array<[string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }, number, string]> =
    [
      ['unknown field', { body: { firstName: 'A', nickname: 'x' } }, 400, 'body.nickname'],
      ['no name nor email', { body: { jobTitle: 'x' } }, 400, 'body.firstName'],
      ['bad email', { body: { emails: ['not-an-email'] } }, 400, 'body.emails.0'],
      ['bad phone', { body: { firstName: 'A', phones: ['12'] } }, 400, 'body.phones.0'],
      ['national phone without country', { body: { firstName: 'A', phones: ['030 1234567'] } }, 400, 'body.phones.0'],
      ['bad stage', { body: { firstName: 'A', lifecycleStage: 'hot' } }, 400, 'body.lifecycleStage'],
      ['bad country', { body: { firstName: 'A', address: { country: 'Germany' } } }, 400, 'body.address.country'],
      [
        'too many tags',
        { body: { firstName: 'A', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) } },
        400,
        'body.tags',
      ],
      ['name too long', { body: { firstName: 'x'.repeat(101) } }, 400, 'body.firstName'],
      ['array body', { body: [] }, 400, 'body'],
      ['malformed JSON', { rawBody: '{"firstName":' }, 400, 'body'],
      ['empty body', { rawBody: '' }, 400, 'body'],
      ['not JSON content type', { rawBody: 'firstName=A', headers: { 'content-type': 'text/plain' } }, 415, ''],
      ['body over 64 KB', { body: { firstName: 'A', jobTitle: 'x'.repeat(70_000) } }, 413, ''],
      [
        'undeclared custom field',
        { body: { firstName: 'A', customFields: { tier: 'gold' } } },
        400,
        'body.customFields.tier',
      ],
      ['bad company reference', { body: { firstName: 'A', companyId: 'NOPE' } }, 400, 'body.companyId'],
    ];
  it.each(cases)('%s', async (_name, request, status, field) => {
    const before = await contacts('GET', '/v1/contacts?limit=100');
    const res = await contacts('POST', '/v1/contacts', request);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status, code: expect.any(String), title: expect.any(String) });
    if (field) expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toContain(field);
    const after = await contacts('GET', '/v1/contacts?limit=100');
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it('rejects malformed path ids and query parameters', async () => {
    expect((await contacts('GET', '/v1/contacts/bad%23id')).status).toBe(400);
    expect((await contacts('GET', '/v1/contacts?limit=0')).status).toBe(400);
    expect((await contacts('GET', '/v1/contacts?limit=abc')).status).toBe(400);
    expect((await contacts('GET', '/v1/contacts?sort=name')).status).toBe(400);
    expect((await contacts('GET', '/v1/contacts?updatedSince=yesterday')).status).toBe(400);
  });
});

describe('contacts: update, concurrency, delete and restore', () => {
  it('applies a merge patch, bumps the version and honours If-Match', async () => {
    const created = await contacts('POST', '/v1/contacts', { body: makeContact({ jobTitle: 'Analyst' }) });
    const id = created.body.id;
    const patched = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: null, address: { city: 'Paris', country: 'FR' }, tags: ['new'] },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    expect(patched.body.jobTitle).toBeUndefined();
    expect(patched.body.address).toEqual({ city: 'Paris', country: 'FR' });
    expect(patched.body.tags).toEqual(['new']);
    expect(patched.headers.etag).toBe('"2"');
    // Consent was not touched, so its timestamp stays; changing a channel moves it.
    expect(patched.body.consent).toEqual(created.body.consent);
    const consented = await contacts('PATCH', `/v1/contacts/${id}`, { body: { consent: { sms: 'withdrawn' } } });
    expect(consented.body.consent).toMatchObject({ email: 'granted', sms: 'withdrawn' });
    expect(consented.body.consent.updatedAt > created.body.consent.updatedAt).toBe(true);

    const stale = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'X' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('contact.version_mismatch');
    expect((await contacts('GET', `/v1/contacts/${id}`)).body.jobTitle).toBeUndefined();

    const badHeader = await contacts('PATCH', `/v1/contacts/${id}`, { body: {}, headers: { 'if-match': 'v2' } });
    expect(badHeader.status).toBe(400);

    const tagLookup = await contacts('GET', '/v1/contacts?tag=vip&limit=100');
    expect(tagLookup.body.items.map((c: { id: string }) => c.id)).not.toContain(id);
    const newTag = await contacts('GET', '/v1/contacts?tag=new');
    expect(newTag.body.items.map((c: { id: string }) => c.id)).toContain(id);
  });

  it('lets exactly one of two concurrent updates of the same version win', async () => {
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const id = created.body.id;
    const results = await Promise.all(
      ['A', 'B', 'C'].map((title) =>
        contacts('PATCH', `/v1/contacts/${id}`, { body: { jobTitle: title }, headers: { 'if-match': '"1"' } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 412 || s === 409)).toBe(true);
    expect((await contacts('GET', `/v1/contacts/${id}`)).body.version).toBe(2);
  });

  it('soft-deletes into the trash and restores', async () => {
    const created = await contacts('POST', '/v1/contacts', { body: makeContact({ ownerId: 'owner-trash' }) });
    const id = created.body.id;
    const email = created.body.emails[0];
    expect((await contacts('DELETE', `/v1/contacts/${id}`, { headers: { 'if-match': '"7"' } })).status).toBe(412);
    expect((await contacts('DELETE', `/v1/contacts/${id}`)).status).toBe(204);
    expect((await contacts('GET', `/v1/contacts/${id}`)).status).toBe(404);
    expect((await contacts('DELETE', `/v1/contacts/${id}`)).status).toBe(404);
    expect((await contacts('GET', `/v1/contacts?email=${email}`)).body.items).toEqual([]);
    expect((await contacts('GET', '/v1/contacts?ownerId=owner-trash')).body.items).toEqual([]);
    const trash = await contacts('GET', '/v1/contacts?inTrash=true&limit=100');
    expect(trash.body.items.find((c: { id: string }) => c.id === id)?.deletedAt).toBeDefined();

    const restored = await contacts('POST', `/v1/contacts/${id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body.deletedAt).toBeUndefined();
    expect(restored.body.version).toBe(3);
    expect((await contacts('GET', `/v1/contacts?email=${email}`)).body.items[0].id).toBe(id);
    expect((await contacts('POST', `/v1/contacts/${id}/restore`)).status).toBe(409);
  });
});

describe('contacts: lists, lookups and pagination', () => {
  const listTenant = uniqueTenant('list');
  let as: ReturnType<typeof apiClient>;
  let companyId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    as = contactsAs(listTenant, ['admin']);
    companyId = (await companiesAs(listTenant)('POST', '/v1/companies', { body: makeCompany() })).body.id;
    const people: Array<[string, Record<string, unknown>]> = [
      ['ada', { firstName: 'Ada', lastName: 'Lovelace', ownerId: 'u1', lifecycleStage: 'customer', companyId }],
      ['alan', { firstName: 'Alan', lastName: 'Turing', ownerId: 'u1', lifecycleStage: 'lead', tags: ['vip'] }],
      ['grace', { firstName: 'Grace', lastName: 'Hopper', ownerId: 'u2', lifecycleStage: 'lead', companyId }],
      [
        'edsger',
        {
          firstName: 'Édsger',
          lastName: 'Dijkstra',
          ownerId: 'u2',
          emails: ['ed@cwi.nl'],
          tags: ['vip'],
          lifecycleStage: 'other',
        },
      ],
    ];
    for (const [key, fields] of people) {
      ids[key] = (await as('POST', '/v1/contacts', { body: makeContact({ tags: [], ...fields }) })).body.id;
    }
  });

  const idsOf = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((c) => c.id);

  it('lists everyone by name', async () => {
    expect(idsOf(await as('GET', '/v1/contacts'))).toEqual([ids.ada, ids.alan, ids.edsger, ids.grace]);
  });
  it('filters by owner, stage, company and tag', async () => {
    expect(idsOf(await as('GET', '/v1/contacts?ownerId=u1'))).toEqual([ids.ada, ids.alan]);
    expect(idsOf(await as('GET', '/v1/contacts?lifecycleStage=lead'))).toEqual([ids.alan, ids.grace]);
    expect(idsOf(await as('GET', `/v1/contacts?companyId=${companyId}`))).toEqual([ids.ada, ids.grace]);
    expect(idsOf(await companiesAs(listTenant)('GET', `/v1/companies/${companyId}/contacts`))).toEqual([
      ids.ada,
      ids.grace,
    ]);
    expect(idsOf(await as('GET', '/v1/contacts?tag=VIP')).sort()).toEqual([ids.alan, ids.edsger].sort());
  });
  it('looks up by exact email and phone, and searches by name prefix (accents folded)', async () => {
    expect(idsOf(await as('GET', '/v1/contacts?email=ED@cwi.nl'))).toEqual([ids.edsger]);
    expect(idsOf(await as('GET', `/v1/contacts?phone=${encodeURIComponent('+44 20 7946 0018')}`)).length).toBe(4);
    expect(idsOf(await as('GET', '/v1/contacts?q=al'))).toEqual([ids.alan]);
    expect(idsOf(await as('GET', '/v1/contacts?q=edsger%20d'))).toEqual([ids.edsger]);
    expect(idsOf(await as('GET', '/v1/contacts?q=zz'))).toEqual([]);
  });
  it('pages with an opaque cursor, never repeating or skipping', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await as(
        'GET',
        `/v1/contacts?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...res.body.items.map((c) => c.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([ids.ada, ids.alan, ids.edsger, ids.grace]);
  });
  it('refuses cursors from another list or tenant, and combined filters', async () => {
    const page = await contacts('GET', '/v1/contacts?limit=1');
    const foreign = await as('GET', `/v1/contacts?limit=1&cursor=${page.body.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.fieldErrors[0].field).toBe('query.cursor');
    expect((await as('GET', '/v1/contacts?cursor=garbage')).status).toBe(400);
    const both = await as('GET', '/v1/contacts?ownerId=u1&tag=vip');
    expect(both.status).toBe(400);
    expect(both.body.fieldErrors.map((e: { field: string }) => e.field)).toEqual(['query.ownerId', 'query.tag']);
  });
  it('feeds delta sync by updatedSince, including deletions', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    await as('DELETE', `/v1/contacts/${ids.grace}`);
    const changed = await as('GET', `/v1/contacts?updatedSince=${since}`);
    const grace = changed.body.items.find((c: { id: string }) => c.id === ids.grace);
    expect(grace.deletedAt).toBeDefined();
    await as('POST', `/v1/contacts/${ids.grace}/restore`);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await as('GET', `/v1/contacts?updatedSince=${future}`)).body.items).toEqual([]);
  });
});

describe('contacts: Idempotency-Key', () => {
  it('returns the first result for a retried create, never a duplicate', async () => {
    const body = makeContact();
    const key = `key-${Date.now()}`;
    const first = await contacts('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    const again = await contacts('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const found = await contacts('GET', `/v1/contacts?email=${first.body.emails[0]}`);
    expect(found.body.items).toHaveLength(1);
  });
  it('creates once when the same key races', async () => {
    const body = makeContact();
    const key = `race-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => contacts('POST', '/v1/contacts', { body, headers: { 'idempotency-key': key } })),
    );
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect((await contacts('GET', `/v1/contacts?email=${body.emails?.toString()}`)).body.items).toHaveLength(1);
  });
  it('refuses the same key with a different body', async () => {
    const key = `reuse-${Date.now()}`;
    await contacts('POST', '/v1/contacts', { body: makeContact(), headers: { 'idempotency-key': key } });
    const res = await contacts('POST', '/v1/contacts', { body: makeContact(), headers: { 'idempotency-key': key } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('idempotency.key_reused');
  });
  it('keys are per tenant', async () => {
    const key = `shared-${Date.now()}`;
    const a = await contacts('POST', '/v1/contacts', { body: makeContact(), headers: { 'idempotency-key': key } });
    const b = await contactsAs(uniqueTenant(), ['admin'])('POST', '/v1/contacts', {
      body: makeContact(),
      headers: { 'idempotency-key': key },
    });
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
  });
});

describe('contacts: custom fields', () => {
  it('accepts declared, typed custom fields and rejects the rest', async () => {
    const cfTenant = uniqueTenant('cf');
    const as = contactsAs(cfTenant, ['admin']);
    const declared = await customFieldsAs(cfTenant)('PUT', '/v1/custom-fields/contact', {
      body: {
        fields: [
          { key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'] },
          { key: 'score', label: 'Score', type: 'number' },
          { key: 'renewal', label: 'Renewal', type: 'date' },
        ],
      },
    });
    expect(declared.status).toBe(200);
    const ok = await as('POST', '/v1/contacts', {
      body: makeContact({ customFields: { tier: 'gold', score: 42, renewal: '2027-01-31' } }),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.customFields).toEqual({ tier: 'gold', score: 42, renewal: '2027-01-31' });
    const bad = await as('POST', '/v1/contacts', {
      body: makeContact({ customFields: { tier: 'bronze', score: 'high', renewal: '31/01/2027', other: 1 } }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fieldErrors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.customFields.other',
      'body.customFields.renewal',
      'body.customFields.score',
      'body.customFields.tier',
    ]);
    const cleared = await as('PATCH', `/v1/contacts/${ok.body.id}`, { body: { customFields: { score: null } } });
    expect(cleared.body.customFields).toEqual({ tier: 'gold', renewal: '2027-01-31' });
    const sales = contactsAs(cfTenant, ['sales']);
    expect((await customFieldsAs(cfTenant)('GET', '/v1/custom-fields/contact')).body.fields).toHaveLength(3);
    expect((await sales('GET', '/v1/contacts?limit=1')).status).toBe(200);
  });
});

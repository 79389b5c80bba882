import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
let companiesAs: (tenantId: string, roles?: string[], userId?: string) => ReturnType<typeof apiClient>;
let contactsAs: (tenantId: string, roles?: string[], userId?: string) => ReturnType<typeof apiClient>;
let companies: ReturnType<typeof apiClient>;
const tenant = uniqueTenant('co');

beforeAll(async () => {
  await useFreshTable();
  const companiesHandler = (await import('./companies.ts')).handler;
  const contactsHandler = (await import('./contacts.ts')).handler;
  companiesAs = (tenantId, roles = ['admin'], userId = 'user-1') =>
    apiClient(companiesHandler, { tenantId, roles, userId });
  contactsAs = (tenantId, roles = ['admin'], userId = 'user-1') =>
    apiClient(contactsHandler, { tenantId, roles, userId });
  companies = companiesAs(tenant, ['manager']);
});

const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((c) => c.id);
const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

describe('companies: create and get', () => {
  it('creates a company with normalised domains and tags, an ETag and a Location', async () => {
    const res = await companies('POST', '/v1/companies', {
      body: makeCompany({
        name: '  Example Corp  ',
        domains: ['https://www.Example.com/path', 'EXAMPLE.com', 'http://shop.example.com', ' www.example.org '],
        tags: ['Partner', 'partner', 'VIP'],
        employeeCount: 42,
        ownerId: 'owner-1',
        address: { city: 'Berlin', country: 'de' },
      }),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Example Corp',
      domains: ['example.com', 'shop.example.com', 'example.org'],
      tags: ['partner', 'vip'],
      industry: 'Computing',
      size: '11-50',
      employeeCount: 42,
      ownerId: 'owner-1',
      address: { city: 'Berlin', country: 'DE' },
      customFields: {},
      version: 1,
      createdBy: 'user-1',
      updatedBy: 'user-1',
    });
    expect(res.body.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(res.body).not.toHaveProperty('sortName');
    expect(res.body).not.toHaveProperty('tenantId');
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/v1/companies/${res.body.id}`);
    expect(res.headers['content-type']).toBe('application/json');

    const got = await companies('GET', `/v1/companies/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    expect(got.headers.etag).toBe('"1"');
  });

  it('shows empty collections for a company created with a name only', async () => {
    const res = await companies('POST', '/v1/companies', { body: { name: 'Bare Minimum' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Bare Minimum', domains: [], tags: [], customFields: {} });
    expect(res.body.industry).toBeUndefined();
  });

  it('returns 404 problem+json for an unknown id', async () => {
    const res = await companies('GET', '/v1/companies/01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body.code).toBe('company.not_found');
  });

  it('never shows one tenant the companies of another', async () => {
    const created = await companies('POST', '/v1/companies', { body: makeCompany({ ownerId: 'iso-owner' }) });
    const id = created.body.id;
    const other = companiesAs(uniqueTenant('other'), ['admin']);
    const got = await other('GET', `/v1/companies/${id}`);
    expect(got.status).toBe(404);
    expect(got.body.code).toBe('company.not_found');
    expect((await other('PATCH', `/v1/companies/${id}`, { body: { name: 'Hijacked' } })).status).toBe(404);
    expect((await other('DELETE', `/v1/companies/${id}`)).status).toBe(404);
    expect((await other('POST', `/v1/companies/${id}/restore`)).status).toBe(404);
    expect((await other('GET', `/v1/companies?domain=${created.body.domains[0]}`)).body.items).toEqual([]);
    expect((await other('GET', '/v1/companies?ownerId=iso-owner')).body.items).toEqual([]);
    expect((await other('GET', '/v1/companies')).body.items).toEqual([]);
    expect((await companies('GET', `/v1/companies/${id}`)).body.name).toBe(created.body.name);
  });
});

describe('companies: roles', () => {
  it('support cannot write companies; marketing and sales can; readonly only reads', async () => {
    const created = await companies('POST', '/v1/companies', { body: makeCompany() });
    const id = created.body.id;

    const support = companiesAs(tenant, ['support']);
    const denied = await support('POST', '/v1/companies', { body: makeCompany() });
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toBe('application/problem+json');
    expect(denied.body.code).toBe('auth.forbidden');
    expect((await support('PATCH', `/v1/companies/${id}`, { body: { industry: 'x' } })).status).toBe(403);
    expect((await support('GET', `/v1/companies/${id}`)).status).toBe(200);

    const marketing = companiesAs(tenant, ['marketing']);
    const byMarketing = await marketing('POST', '/v1/companies', { body: makeCompany() });
    expect(byMarketing.status).toBe(201);
    expect((await marketing('PATCH', `/v1/companies/${id}`, { body: { industry: 'Marketing' } })).status).toBe(200);
    expect((await marketing('DELETE', `/v1/companies/${id}`)).status).toBe(403);

    expect((await companiesAs(tenant, ['sales'])('POST', '/v1/companies', { body: makeCompany() })).status).toBe(201);
    expect((await companiesAs(tenant, ['sales'])('DELETE', `/v1/companies/${id}`)).status).toBe(403);

    const readonly = companiesAs(tenant, ['readonly']);
    expect((await readonly('GET', `/v1/companies/${id}`)).status).toBe(200);
    expect((await readonly('GET', '/v1/companies')).status).toBe(200);
    expect((await readonly('GET', `/v1/companies/${id}/contacts`)).status).toBe(200);
    expect((await readonly('POST', '/v1/companies', { body: makeCompany() })).status).toBe(403);
    expect((await readonly('PATCH', `/v1/companies/${id}`, { body: { industry: 'x' } })).status).toBe(403);
    expect((await readonly('DELETE', `/v1/companies/${id}`)).status).toBe(403);
    expect((await readonly('POST', `/v1/companies/${id}/restore`)).status).toBe(403);

    expect((await companiesAs(tenant, [])('GET', '/v1/companies')).status).toBe(403);
    expect((await companiesAs(tenant, ['superuser'])('GET', '/v1/companies')).status).toBe(403);

    const after = await companies('GET', `/v1/companies/${id}`);
    expect(after.body.industry).toBe('Marketing');
    expect(after.body.deletedAt).toBeUndefined();
  });
});

describe('companies: bad input is refused with field errors and changes nothing', () => {
  const cases: Array<[string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }, number, string]> =
    [
      ['unknown field', { body: { name: 'A', website: 'https://a.example' } }, 400, 'body.website'],
      ['missing name', { body: { industry: 'Computing' } }, 400, 'body.name'],
      ['blank name', { body: { name: '   ' } }, 400, 'body.name'],
      ['name too long', { body: { name: 'x'.repeat(201) } }, 400, 'body.name'],
      ['bad domain', { body: { name: 'A', domains: ['not a domain'] } }, 400, 'body.domains.0'],
      ['domain without a TLD', { body: { name: 'A', domains: ['ok.example', 'localhost'] } }, 400, 'body.domains.1'],
      ['domain with a port', { body: { name: 'A', domains: ['example.com:8080'] } }, 400, 'body.domains.0'],
      ['bad size enum', { body: { name: 'A', size: 'huge' } }, 400, 'body.size'],
      ['negative employeeCount', { body: { name: 'A', employeeCount: -1 } }, 400, 'body.employeeCount'],
      ['fractional employeeCount', { body: { name: 'A', employeeCount: 2.5 } }, 400, 'body.employeeCount'],
      ['employeeCount as a string', { body: { name: 'A', employeeCount: '12' } }, 400, 'body.employeeCount'],
      [
        'too many domains',
        { body: { name: 'A', domains: Array.from({ length: 11 }, (_, i) => `d${i}.example`) } },
        400,
        'body.domains',
      ],
      ['tag with #', { body: { name: 'A', tags: ['a#b'] } }, 400, 'body.tags.0'],
      ['bad country', { body: { name: 'A', address: { country: 'Germany' } } }, 400, 'body.address.country'],
      ['bad owner id', { body: { name: 'A', ownerId: 'a b' } }, 400, 'body.ownerId'],
      [
        'undeclared custom field',
        { body: { name: 'A', customFields: { tier: 'gold' } } },
        400,
        'body.customFields.tier',
      ],
      ['array body', { body: [] }, 400, 'body'],
      ['malformed JSON', { rawBody: '{"name":' }, 400, 'body'],
      ['empty body', { rawBody: '' }, 400, 'body'],
      ['not JSON content type', { rawBody: 'name=A', headers: { 'content-type': 'text/plain' } }, 415, ''],
    ];
  it.each(cases)('%s', async (_name, request, status, field) => {
    const before = await companies('GET', '/v1/companies?limit=100');
    const res = await companies('POST', '/v1/companies', request);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status, code: expect.any(String), title: expect.any(String) });
    if (field) expect(fieldsOf(res)).toContain(field);
    const after = await companies('GET', '/v1/companies?limit=100');
    expect(idsOf(after)).toEqual(idsOf(before));
  });

  it('stores nothing, not even lookups, for a refused company', async () => {
    const res = await companies('POST', '/v1/companies', {
      body: { name: 'Refused', domains: ['refused.example'], tags: ['refused'], size: 'huge' },
    });
    expect(res.status).toBe(400);
    expect((await companies('GET', '/v1/companies?domain=refused.example')).body.items).toEqual([]);
    expect((await companies('GET', '/v1/companies?tag=refused')).body.items).toEqual([]);
    expect((await companies('GET', '/v1/companies?q=refused')).body.items).toEqual([]);
  });

  it('rejects malformed path ids and query parameters', async () => {
    expect((await companies('GET', '/v1/companies/bad%23id')).status).toBe(400);
    expect((await companies('GET', '/v1/companies?limit=0')).status).toBe(400);
    expect((await companies('GET', '/v1/companies?limit=101')).status).toBe(400);
    expect((await companies('GET', '/v1/companies?size=huge')).status).toBe(400);
    expect((await companies('GET', '/v1/companies?updatedSince=yesterday')).status).toBe(400);
    expect((await companies('GET', '/v1/companies?inTrash=yes')).status).toBe(400);
  });
});

describe('companies: update, concurrency, delete and restore', () => {
  it('applies a merge patch, bumps the version and honours If-Match', async () => {
    const created = await companies('POST', '/v1/companies', {
      body: makeCompany({ industry: 'Computing', address: { city: 'London', country: 'GB' }, tags: ['old'] }),
    });
    const id = created.body.id;
    const oldDomain = created.body.domains[0];
    const patched = await companies('PATCH', `/v1/companies/${id}`, {
      body: {
        industry: null,
        address: { city: 'Paris' },
        domains: ['https://www.Patched-Domain.example/about'],
        tags: ['New', 'new'],
        employeeCount: 7,
      },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    expect(patched.body.industry).toBeUndefined();
    expect(patched.body.address).toEqual({ city: 'Paris', country: 'GB' });
    expect(patched.body.domains).toEqual(['patched-domain.example']);
    expect(patched.body.tags).toEqual(['new']);
    expect(patched.body.employeeCount).toBe(7);
    expect(patched.body.name).toBe(created.body.name);
    expect(patched.body.createdAt).toBe(created.body.createdAt);
    expect(patched.headers.etag).toBe('"2"');
    expect((await companies('GET', `/v1/companies/${id}`)).body).toEqual(patched.body);

    // Lookups follow the change: the old domain and tag no longer find it, the new ones do.
    expect(idsOf(await companies('GET', `/v1/companies?domain=${oldDomain}`))).toEqual([]);
    expect(idsOf(await companies('GET', '/v1/companies?domain=patched-domain.example'))).toEqual([id]);
    expect(idsOf(await companies('GET', '/v1/companies?tag=old'))).not.toContain(id);
    expect(idsOf(await companies('GET', '/v1/companies?tag=new'))).toContain(id);
    // Lists served by lookups hold the updated record's summary, not the record.
    expect((await companies('GET', '/v1/companies?domain=patched-domain.example')).body.items[0]).toStrictEqual({
      id,
      name: created.body.name,
      domain: 'patched-domain.example',
    });

    const stale = await companies('PATCH', `/v1/companies/${id}`, {
      body: { industry: 'X' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('company.version_mismatch');
    expect((await companies('GET', `/v1/companies/${id}`)).body.industry).toBeUndefined();

    expect((await companies('PATCH', `/v1/companies/${id}`, { body: {}, headers: { 'if-match': 'v2' } })).status).toBe(
      400,
    );
    const bad = await companies('PATCH', `/v1/companies/${id}`, { body: { name: null } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toContain('body.name');
    // If-Match uses strong comparison: a weak tag never matches, even the current version's (RFC 9110 13.1.1).
    const weak = await companies('PATCH', `/v1/companies/${id}`, {
      body: { industry: 'Weak' },
      headers: { 'if-match': 'W/"2"' },
    });
    expect(weak.status).toBe(412);
    expect(weak.body.code).toBe('company.version_mismatch');
    expect((await companies('GET', `/v1/companies/${id}`)).body.version).toBe(2);
  });

  it('clears a single address field with null, as a merge patch should', async () => {
    const created = await companies('POST', '/v1/companies', {
      body: makeCompany({ address: { street: '1 Main St', city: 'London', postalCode: 'N1', country: 'GB' } }),
    });
    const id = created.body.id;
    const res = await companies('PATCH', `/v1/companies/${id}`, { body: { address: { city: null, street: null } } });
    expect(res.status).toBe(200);
    expect(res.body.address).toEqual({ postalCode: 'N1', country: 'GB' });
    expect(res.body.version).toBe(2);
    const emptied = await companies('PATCH', `/v1/companies/${id}`, {
      body: { address: { postalCode: null, country: 'fr', region: 'IDF' } },
    });
    expect(emptied.status).toBe(200);
    expect(emptied.body.address).toEqual({ country: 'FR', region: 'IDF' });
    const cleared = await companies('PATCH', `/v1/companies/${id}`, { body: { address: null } });
    expect(cleared.body.address).toBeUndefined();
    const bad = await companies('PATCH', `/v1/companies/${id}`, { body: { address: { country: 'France' } } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['body.address.country']);
  });

  it('a patch that changes nothing keeps the version', async () => {
    const created = await companies('POST', '/v1/companies', { body: makeCompany({ industry: 'Same' }) });
    const res = await companies('PATCH', `/v1/companies/${created.body.id}`, { body: { industry: 'Same' } });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(1);
    expect(res.body).toEqual(created.body);
  });

  it('renaming moves the company in the name order and prefix search', async () => {
    const created = await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Qqqq Renamable' }) });
    const id = created.body.id;
    expect(idsOf(await companies('GET', '/v1/companies?q=qqqq'))).toEqual([id]);
    await companies('PATCH', `/v1/companies/${id}`, { body: { name: 'Wwww Renamed' } });
    expect(idsOf(await companies('GET', '/v1/companies?q=qqqq'))).toEqual([]);
    expect(idsOf(await companies('GET', '/v1/companies?q=wwww'))).toEqual([id]);
  });

  it('lets exactly one of concurrent updates of the same version win', async () => {
    const created = await companies('POST', '/v1/companies', { body: makeCompany() });
    const id = created.body.id;
    const results = await Promise.all(
      ['A', 'B', 'C'].map((industry) =>
        companies('PATCH', `/v1/companies/${id}`, { body: { industry }, headers: { 'if-match': '"1"' } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 412 || s === 409)).toBe(true);
    expect((await companies('GET', `/v1/companies/${id}`)).body.version).toBe(2);
  });

  it('soft-deletes into the trash and restores', async () => {
    const created = await companies('POST', '/v1/companies', {
      body: makeCompany({ ownerId: 'owner-trash', tags: ['trashtag'] }),
    });
    const id = created.body.id;
    const domain = created.body.domains[0];
    const del412 = await companies('DELETE', `/v1/companies/${id}`, { headers: { 'if-match': '"7"' } });
    expect(del412.status).toBe(412);
    expect(del412.body.code).toBe('company.version_mismatch');
    const deleted = await companies('DELETE', `/v1/companies/${id}`, { headers: { 'if-match': '"1"' } });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect((await companies('GET', `/v1/companies/${id}`)).status).toBe(404);
    expect((await companies('DELETE', `/v1/companies/${id}`)).status).toBe(404);
    expect((await companies('PATCH', `/v1/companies/${id}`, { body: { industry: 'x' } })).status).toBe(404);
    expect((await companies('GET', `/v1/companies?domain=${domain}`)).body.items).toEqual([]);
    expect((await companies('GET', '/v1/companies?tag=trashtag')).body.items).toEqual([]);
    expect((await companies('GET', '/v1/companies?ownerId=owner-trash')).body.items).toEqual([]);
    expect(idsOf(await companies('GET', '/v1/companies?limit=100'))).not.toContain(id);
    const trash = await companies('GET', '/v1/companies?inTrash=true&limit=100');
    const inTrash = trash.body.items.find((c: { id: string }) => c.id === id);
    expect(inTrash?.deletedAt).toBeDefined();
    expect(inTrash?.version).toBe(2);
    expect(inTrash).not.toHaveProperty('deletedBy');

    expect((await companies('POST', `/v1/companies/${id}/restore`, { headers: { 'if-match': '"1"' } })).status).toBe(
      412,
    );
    const restored = await companies('POST', `/v1/companies/${id}/restore`, { headers: { 'if-match': '"2"' } });
    expect(restored.status).toBe(200);
    expect(restored.body.deletedAt).toBeUndefined();
    expect(restored.body.version).toBe(3);
    expect(restored.headers.etag).toBe('"3"');
    expect(idsOf(await companies('GET', `/v1/companies?domain=${domain}`))).toEqual([id]);
    expect(idsOf(await companies('GET', '/v1/companies?ownerId=owner-trash'))).toEqual([id]);
    expect(idsOf(await companies('GET', '/v1/companies?inTrash=true&limit=100'))).not.toContain(id);
    const again = await companies('POST', `/v1/companies/${id}/restore`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('company.not_deleted');
  });

  it('restoring an unknown company is 404', async () => {
    const res = await companies('POST', '/v1/companies/01ARZ3NDEKTSV4RRFFQ69G5FAV/restore');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('company.not_found');
  });
});

describe('companies: lists, lookups and pagination', () => {
  const listTenant = uniqueTenant('colist');
  let as: ReturnType<typeof apiClient>;
  const ids: Record<string, string> = {};
  let createdAfter: string;

  beforeAll(async () => {
    as = companiesAs(listTenant, ['admin']);
    const orgs: Array<[string, Record<string, unknown>]> = [
      ['zeta', { name: 'Zeta Systems', ownerId: 'u1', domains: ['zeta.example'], tags: ['Partner'] }],
      ['alpha', { name: 'alpha Analytics', ownerId: 'u2', domains: ['alpha.example'], tags: [] }],
      ['emile', { name: 'Émile & Fils', ownerId: 'u1', domains: ['emile.example', 'fils.example'], tags: ['partner'] }],
      ['beta', { name: 'Beta Works', domains: ['beta.example'], tags: ['vip'] }],
      ['alpine', { name: 'Alpine Ventures', ownerId: 'u2', domains: ['alpine.example'], tags: ['vip', 'partner'] }],
    ];
    for (const [key, fields] of orgs) {
      const res = await as('POST', '/v1/companies', { body: makeCompany(fields) });
      expect(res.status).toBe(201);
      ids[key] = res.body.id;
    }
    createdAfter = new Date().toISOString();
  });

  const byName = () => [ids.alpha, ids.alpine, ids.beta, ids.emile, ids.zeta];

  it('lists everyone by name, case- and accent-insensitively', async () => {
    const res = await as('GET', '/v1/companies');
    expect(res.status).toBe(200);
    expect(idsOf(res)).toEqual(byName());
    expect(res.body.nextCursor).toBeNull();
  });

  it('filters by owner, sorted by name', async () => {
    expect(idsOf(await as('GET', '/v1/companies?ownerId=u1'))).toEqual([ids.emile, ids.zeta]);
    expect(idsOf(await as('GET', '/v1/companies?ownerId=u2'))).toEqual([ids.alpha, ids.alpine]);
    expect(idsOf(await as('GET', '/v1/companies?ownerId=nobody'))).toEqual([]);
  });

  it('filters by tag, case-insensitively', async () => {
    expect(idsOf(await as('GET', '/v1/companies?tag=PARTNER')).sort()).toEqual(
      [ids.zeta, ids.emile, ids.alpine].sort(),
    );
    expect(idsOf(await as('GET', '/v1/companies?tag=vip')).sort()).toEqual([ids.beta, ids.alpine].sort());
    expect(idsOf(await as('GET', '/v1/companies?tag=none'))).toEqual([]);
  });

  it('looks up by domain, exactly, whichever of its domains', async () => {
    expect(idsOf(await as('GET', '/v1/companies?domain=alpha.example'))).toEqual([ids.alpha]);
    expect(idsOf(await as('GET', '/v1/companies?domain=FILS.example'))).toEqual([ids.emile]);
    expect(idsOf(await as('GET', '/v1/companies?domain=www.beta.example'))).toEqual([ids.beta]);
    expect(
      idsOf(await as('GET', `/v1/companies?domain=${encodeURIComponent('https://www.Alpha.example/about')}`)),
    ).toEqual([ids.alpha]);
    const notADomain = await as('GET', '/v1/companies?domain=example');
    expect(notADomain.status).toBe(400);
    expect(notADomain.body.fieldErrors[0].field).toBe('query.domain');
    expect(idsOf(await as('GET', '/v1/companies?domain=lpha.example'))).toEqual([]);
  });

  it('searches by name prefix, folding case and accents', async () => {
    expect(idsOf(await as('GET', '/v1/companies?q=alp'))).toEqual([ids.alpha, ids.alpine]);
    expect(idsOf(await as('GET', '/v1/companies?q=ALPI'))).toEqual([ids.alpine]);
    expect(idsOf(await as('GET', '/v1/companies?q=emile'))).toEqual([ids.emile]);
    expect(idsOf(await as('GET', `/v1/companies?q=${encodeURIComponent('Émile f')}`))).toEqual([ids.emile]);
    expect(idsOf(await as('GET', '/v1/companies?q=systems'))).toEqual([]);
    expect(idsOf(await as('GET', '/v1/companies?q=zz'))).toEqual([]);
  });

  it('pages with an opaque cursor, never repeating or skipping', async () => {
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: TestResponse = await as(
          'GET',
          `/v1/companies?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...idsOf(res));
        cursor = res.body.nextCursor;
        pages++;
        expect(pages).toBeLessThan(10);
      } while (cursor);
      expect(seen).toEqual(byName());
    }
  });

  it('pages a filtered list too', async () => {
    const first = await as('GET', '/v1/companies?tag=partner&limit=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await as('GET', `/v1/companies?tag=partner&limit=2&cursor=${first.body.nextCursor}`);
    const all = [...idsOf(first), ...idsOf(second)];
    expect(new Set(all).size).toBe(3);
    expect(all.sort()).toEqual([ids.zeta, ids.emile, ids.alpine].sort());
  });

  it('refuses cursors from another list or tenant, garbage cursors and combined filters', async () => {
    const page = await as('GET', '/v1/companies?limit=1');
    const otherList = await as('GET', `/v1/companies?ownerId=u1&limit=1&cursor=${page.body.nextCursor}`);
    expect(otherList.status).toBe(400);
    expect(fieldsOf(otherList)).toEqual(['query.cursor']);
    const foreign = await companies('GET', `/v1/companies?limit=1&cursor=${page.body.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['query.cursor']);
    expect((await as('GET', '/v1/companies?cursor=garbage')).status).toBe(400);

    const both = await as('GET', '/v1/companies?ownerId=u1&tag=vip');
    expect(both.status).toBe(400);
    expect(both.headers['content-type']).toBe('application/problem+json');
    expect(fieldsOf(both)).toEqual(['query.ownerId', 'query.tag']);
    const three = await as('GET', '/v1/companies?domain=alpha.example&q=al&inTrash=true');
    expect(three.status).toBe(400);
    expect(fieldsOf(three)).toEqual(['query.domain', 'query.q', 'query.inTrash']);
    // inTrash=false is no filter at all.
    expect(idsOf(await as('GET', '/v1/companies?ownerId=u1&inTrash=false'))).toEqual([ids.emile, ids.zeta]);
  });

  it('refuses forged cursors that name the right partition but are not a key of the list (400, never 500)', async () => {
    for (const list of [
      '/v1/companies?limit=1',
      '/v1/companies?tag=partner&limit=1',
      '/v1/companies?ownerId=u1&limit=1',
    ]) {
      const page = await as('GET', list);
      expect(page.body.nextCursor).toEqual(expect.any(String));
      const key = JSON.parse(Buffer.from(page.body.nextCursor, 'base64url').toString('utf8'));
      const partitionField = Object.keys(key).find((k) => /^gsi\dpk$/.test(k)) ?? 'pk';
      const forgeries: Array<Record<string, unknown>> = [
        { [partitionField]: key[partitionField] },
        { ...key, pk: 5 },
        { ...key, sk: '' },
        { ...key, extra: 'x' },
      ];
      for (const forged of forgeries) {
        const cursor = Buffer.from(JSON.stringify(forged)).toString('base64url');
        const res = await as('GET', `${list}&cursor=${cursor}`);
        expect(res.status, `${list} ${JSON.stringify(forged)}`).toBe(400);
        expect(fieldsOf(res)).toEqual(['query.cursor']);
      }
      // The genuine cursor still works.
      expect((await as('GET', `${list}&cursor=${page.body.nextCursor}`)).status).toBe(200);
    }
  });

  it('feeds delta sync by updatedSince, oldest first, including deletions', async () => {
    const all = await as('GET', '/v1/companies?updatedSince=2000-01-01T00:00:00Z&limit=100');
    expect(idsOf(all).sort()).toEqual(byName().sort());
    const updatedAts = (all.body.items as Array<{ updatedAt: string }>).map((c) => c.updatedAt);
    expect(updatedAts).toEqual([...updatedAts].sort());

    expect(idsOf(await as('GET', `/v1/companies?updatedSince=${createdAfter}`))).toEqual([]);
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date().toISOString();
    await as('PATCH', `/v1/companies/${ids.beta}`, { body: { industry: 'Changed' } });
    await as('DELETE', `/v1/companies/${ids.zeta}`);
    const changed = await as('GET', `/v1/companies?updatedSince=${since}`);
    expect(idsOf(changed)).toEqual([ids.beta, ids.zeta]);
    expect(changed.body.items[1].deletedAt).toBeDefined();
    await as('POST', `/v1/companies/${ids.zeta}/restore`);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await as('GET', `/v1/companies?updatedSince=${future}`)).body.items).toEqual([]);
    expect(idsOf(await as('GET', '/v1/companies'))).toEqual(byName());
  });
});

describe('companies: Idempotency-Key', () => {
  it('returns the first result for a retried create, never a duplicate', async () => {
    const body = makeCompany();
    const key = `co-key-${Date.now()}`;
    const first = await companies('POST', '/v1/companies', { body, headers: { 'idempotency-key': key } });
    const again = await companies('POST', '/v1/companies', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.etag).toBe('"1"');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(idsOf(await companies('GET', `/v1/companies?domain=${first.body.domains[0]}`))).toEqual([first.body.id]);
    expect(idsOf(await companies('GET', `/v1/companies?q=${encodeURIComponent(String(body.name))}`))).toEqual([
      first.body.id,
    ]);
  });

  it('creates once when the same key races', async () => {
    const body = makeCompany();
    const key = `co-race-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        companies('POST', '/v1/companies', { body, headers: { 'idempotency-key': key } }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect((await companies('GET', `/v1/companies?domain=${results[0]!.body.domains[0]}`)).body.items).toHaveLength(1);
  });

  it('refuses the same key with a different body, and stores nothing for it', async () => {
    const key = `co-reuse-${Date.now()}`;
    await companies('POST', '/v1/companies', { body: makeCompany(), headers: { 'idempotency-key': key } });
    const second = makeCompany();
    const res = await companies('POST', '/v1/companies', { body: second, headers: { 'idempotency-key': key } });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('idempotency.key_reused');
    expect((await companies('GET', `/v1/companies?domain=${(second.domains as string[])[0]}`)).body.items).toEqual([]);
  });

  it('rejects a malformed key', async () => {
    const res = await companies('POST', '/v1/companies', {
      body: makeCompany(),
      headers: { 'idempotency-key': 'has space' },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['header.Idempotency-Key']);
  });
});

describe('companies: contacts referencing a company', () => {
  const refTenant = uniqueTenant('coref');

  it('links contacts to a live company and lists them by name under it', async () => {
    const co = companiesAs(refTenant);
    const people = contactsAs(refTenant);
    const company = await co('POST', '/v1/companies', { body: makeCompany() });
    const companyId = company.body.id;
    const grace = await people('POST', '/v1/contacts', {
      body: makeContact({ firstName: 'Grace', lastName: 'Hopper', companyId }),
    });
    const ada = await people('POST', '/v1/contacts', {
      body: makeContact({ firstName: 'Ada', lastName: 'Lovelace', companyId }),
    });
    const loner = await people('POST', '/v1/contacts', {
      body: makeContact({ firstName: 'Alan', lastName: 'Turing' }),
    });
    expect(grace.status).toBe(201);
    expect(grace.body.companyId).toBe(companyId);
    expect(ada.status).toBe(201);
    expect(loner.status).toBe(201);

    const listed = await co('GET', `/v1/companies/${companyId}/contacts`);
    expect(listed.status).toBe(200);
    expect(idsOf(listed)).toEqual([ada.body.id, grace.body.id]);
    expect(listed.body.items[0]).toEqual(ada.body);

    const first = await co('GET', `/v1/companies/${companyId}/contacts?limit=1`);
    expect(idsOf(first)).toEqual([ada.body.id]);
    const second = await co('GET', `/v1/companies/${companyId}/contacts?limit=1&cursor=${first.body.nextCursor}`);
    expect(idsOf(second)).toEqual([grace.body.id]);

    // Moving a contact to another company moves it between the lists.
    const other = await co('POST', '/v1/companies', { body: makeCompany() });
    const moved = await people('PATCH', `/v1/contacts/${grace.body.id}`, { body: { companyId: other.body.id } });
    expect(moved.status).toBe(200);
    expect(idsOf(await co('GET', `/v1/companies/${companyId}/contacts`))).toEqual([ada.body.id]);
    expect(idsOf(await co('GET', `/v1/companies/${other.body.id}/contacts`))).toEqual([grace.body.id]);

    // Another tenant sees none of them, even with the right company id.
    expect((await companiesAs(uniqueTenant())('GET', `/v1/companies/${companyId}/contacts`)).body.items).toEqual([]);
  });

  it('refuses a reference to a trashed company (400 on companyId) and stores nothing', async () => {
    const co = companiesAs(refTenant);
    const people = contactsAs(refTenant);
    const company = await co('POST', '/v1/companies', { body: makeCompany() });
    const companyId = company.body.id;
    const existing = await people('POST', '/v1/contacts', { body: makeContact({ companyId }) });
    expect(existing.status).toBe(201);
    const unlinked = await people('POST', '/v1/contacts', { body: makeContact() });
    expect((await co('DELETE', `/v1/companies/${companyId}`)).status).toBe(204);

    const body = makeContact({ companyId });
    const refused = await people('POST', '/v1/contacts', { body });
    expect(refused.status).toBe(400);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(fieldsOf(refused)).toEqual(['body.companyId']);
    expect((await people('GET', `/v1/contacts?email=${(body.emails as string[])[0]}`)).body.items).toEqual([]);

    const patch = await people('PATCH', `/v1/contacts/${unlinked.body.id}`, { body: { companyId } });
    expect(patch.status).toBe(400);
    expect(fieldsOf(patch)).toEqual(['body.companyId']);
    expect((await people('GET', `/v1/contacts/${unlinked.body.id}`)).body.companyId).toBeUndefined();

    // A contact already linked keeps its link and can still be edited otherwise.
    const edit = await people('PATCH', `/v1/contacts/${existing.body.id}`, { body: { jobTitle: 'Still here' } });
    expect(edit.status).toBe(200);
    expect(edit.body.companyId).toBe(companyId);

    // Once restored, the company can be referenced again.
    expect((await co('POST', `/v1/companies/${companyId}/restore`)).status).toBe(200);
    const accepted = await people('POST', '/v1/contacts', { body });
    expect(accepted.status).toBe(201);
    expect(idsOf(await co('GET', `/v1/companies/${companyId}/contacts`)).sort()).toEqual(
      [existing.body.id, accepted.body.id].sort(),
    );
  });

  it('refuses a reference to a company of another tenant', async () => {
    const foreign = await companiesAs(uniqueTenant('foreign'))('POST', '/v1/companies', { body: makeCompany() });
    const res = await contactsAs(refTenant)('POST', '/v1/contacts', {
      body: makeContact({ companyId: foreign.body.id }),
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['body.companyId']);
  });
});

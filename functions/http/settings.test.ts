import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, makeNote, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Handler = Parameters<typeof apiClient>[0];
const handlers: Record<'settings' | 'contacts' | 'companies' | 'notes' | 'customFields', Handler> = {} as never;
const as =
  (group: keyof typeof handlers) =>
  (tenantId: string, roles: string[] = ['admin'], userId = 'user-1'): Client =>
    apiClient(handlers[group], { tenantId, roles, userId });

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
beforeAll(async () => {
  await useFreshTable();
  handlers.settings = (await import('./settings.ts')).handler;
  handlers.contacts = (await import('./contacts.ts')).handler;
  handlers.companies = (await import('./companies.ts')).handler;
  handlers.notes = (await import('./notes.ts')).handler;
  handlers.customFields = (await import('./custom-fields.ts')).handler;
});

describe('settings: GET and PATCH /v1/settings', () => {
  it('shows the defaults at version 0 until something is set, then merge-patches with ETag and If-Match', async () => {
    const tenant = uniqueTenant('set');
    const settings = as('settings')(tenant);
    const initial = await settings('GET', '/v1/settings');
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ requireIfMatch: false, version: 0 });
    expect(initial.headers.etag).toBe('"0"');

    const unchanged = await settings('PATCH', '/v1/settings', { body: {} });
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.version).toBe(0);

    const set = await settings('PATCH', '/v1/settings', {
      body: { requireIfMatch: true },
      headers: { 'if-match': '"0"' },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ requireIfMatch: true, version: 1, createdBy: 'user-1', updatedBy: 'user-1' });
    expect(set.headers.etag).toBe('"1"');
    expect((await settings('GET', '/v1/settings')).body).toEqual(set.body);

    const stale = await settings('PATCH', '/v1/settings', {
      body: { requireIfMatch: false },
      headers: { 'if-match': '"0"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.headers['content-type']).toBe('application/problem+json');
    expect(stale.body.code).toBe('settings.version_mismatch');

    // The tenant now requires If-Match, on its settings too.
    const missing = await settings('PATCH', '/v1/settings', { body: { requireIfMatch: false } });
    expect(missing.status).toBe(428);
    expect(missing.body.code).toBe('request.precondition_required');

    const reset = await settings('PATCH', '/v1/settings', {
      body: { requireIfMatch: null },
      headers: { 'if-match': '"1"' },
    });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ requireIfMatch: false, version: 2, createdAt: set.body.createdAt });

    const notModified = await settings('GET', '/v1/settings', { headers: { 'if-none-match': '"2"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"2"');
    expect(notModified.body).toBeUndefined();
  });

  it('refuses bad patches with field errors and changes nothing', async () => {
    const tenant = uniqueTenant('setbad');
    const settings = as('settings')(tenant);
    for (const [body, field] of [
      [{ requireIfMatch: 'yes' }, 'body.requireIfMatch'],
      [{ requireIfMatch: 1 }, 'body.requireIfMatch'],
      [{ quota: 1000 }, 'body.quota'],
      [[], 'body'],
    ] as const) {
      const res = await settings('PATCH', '/v1/settings', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await settings('GET', '/v1/settings')).body.version).toBe(0);
  });

  it('every role may read the settings; only admin may change them', async () => {
    const tenant = uniqueTenant('setrole');
    for (const role of ['manager', 'sales', 'support', 'marketing', 'readonly']) {
      const client = as('settings')(tenant, [role]);
      expect((await client('GET', '/v1/settings')).status, role).toBe(200);
      const refused = await client('PATCH', '/v1/settings', { body: { requireIfMatch: true } });
      expect(refused.status, role).toBe(403);
      expect(refused.body.code).toBe('auth.forbidden');
    }
    expect((await as('settings')(tenant, [])('GET', '/v1/settings')).status).toBe(403);
    expect((await as('settings')(tenant)('GET', '/v1/settings')).body.requireIfMatch).toBe(false);
  });

  it("a tenant's settings are its own", async () => {
    const a = uniqueTenant('seta');
    const b = uniqueTenant('setb');
    await as('settings')(a)('PATCH', '/v1/settings', { body: { requireIfMatch: true } });
    expect((await as('settings')(b)('GET', '/v1/settings')).body).toMatchObject({ requireIfMatch: false, version: 0 });
    const contact = await as('contacts')(b)('POST', '/v1/contacts', { body: makeContact() });
    const patched = await as('contacts')(b)('PATCH', `/v1/contacts/${contact.body.id}`, { body: { jobTitle: 'B' } });
    expect(patched.status).toBe(200);
  });
});

describe('requireIfMatch: 428 Precondition Required without If-Match on updates and deletes', () => {
  let tenant: string;
  beforeAll(async () => {
    tenant = uniqueTenant('req');
    const res = await as('settings')(tenant)('PATCH', '/v1/settings', { body: { requireIfMatch: true } });
    expect(res.status).toBe(200);
  });

  it('contacts: PATCH, DELETE and restore need If-Match; with it they succeed; reads and creates do not', async () => {
    const contacts = as('contacts')(tenant);
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await contacts('GET', `/v1/contacts/${id}`)).status).toBe(200);

    const patch = await contacts('PATCH', `/v1/contacts/${id}`, { body: { jobTitle: 'Engineer' } });
    expect(patch.status).toBe(428);
    expect(patch.headers['content-type']).toBe('application/problem+json');
    expect(patch.body).toMatchObject({
      status: 428,
      code: 'request.precondition_required',
      title: 'Precondition Required',
    });
    expect((await contacts('DELETE', `/v1/contacts/${id}`)).status).toBe(428);
    expect((await contacts('GET', `/v1/contacts/${id}`)).body.version).toBe(1);

    const patched = await contacts('PATCH', `/v1/contacts/${id}`, {
      body: { jobTitle: 'Engineer' },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    // `*` is an If-Match too: it satisfies the requirement.
    const deleted = await contacts('DELETE', `/v1/contacts/${id}`, { headers: { 'if-match': '*' } });
    expect(deleted.status).toBe(204);

    const restore = await contacts('POST', `/v1/contacts/${id}/restore`);
    expect(restore.status).toBe(428);
    expect((await contacts('GET', `/v1/contacts?inTrash=true`)).body.items.map((c: { id: string }) => c.id)).toContain(
      id,
    );
    const restored = await contacts('POST', `/v1/contacts/${id}/restore`, { headers: { 'if-match': '"3"' } });
    expect(restored.status).toBe(200);
    expect(restored.body.version).toBe(4);
  });

  it('companies, notes and custom fields need it too', async () => {
    const companies = as('companies')(tenant);
    const company = await companies('POST', '/v1/companies', { body: { name: 'Required Ltd' } });
    expect((await companies('PATCH', `/v1/companies/${company.body.id}`, { body: { industry: 'x' } })).status).toBe(
      428,
    );
    expect((await companies('DELETE', `/v1/companies/${company.body.id}`)).status).toBe(428);

    const contact = await as('contacts')(tenant)('POST', '/v1/contacts', { body: makeContact() });
    const notes = as('notes')(tenant);
    const note = await notes('POST', `/v1/contacts/${contact.body.id}/notes`, { body: makeNote() });
    expect(note.status).toBe(201);
    expect((await notes('PATCH', `/v1/notes/${note.body.id}`, { body: { body: 'Edited' } })).status).toBe(428);
    expect((await notes('DELETE', `/v1/notes/${note.body.id}`)).status).toBe(428);
    const edited = await notes('PATCH', `/v1/notes/${note.body.id}`, {
      body: { body: 'Edited' },
      headers: { 'if-match': '"1"' },
    });
    expect(edited.status).toBe(200);

    const fields = as('customFields')(tenant);
    const put = { fields: [{ key: 'tier', label: 'Tier', type: 'text' }] };
    expect((await fields('PUT', '/v1/custom-fields/contact', { body: put })).status).toBe(428);
    expect(
      (await fields('PUT', '/v1/custom-fields/contact', { body: put, headers: { 'if-match': '"0"' } })).status,
    ).toBe(200);
  });

  it('a malformed If-Match is still a 400 and a stale one a 412', async () => {
    const contacts = as('contacts')(tenant);
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    const id = created.body.id;
    const malformed = await contacts('PATCH', `/v1/contacts/${id}`, { body: {}, headers: { 'if-match': 'v1' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.fieldErrors[0].field).toBe('header.If-Match');
    const stale = await contacts('PATCH', `/v1/contacts/${id}`, { body: {}, headers: { 'if-match': '"2"' } });
    expect(stale.status).toBe(412);
  });

  it('turning it off lets writes without If-Match through again', async () => {
    const other = uniqueTenant('reqoff');
    const settings = as('settings')(other);
    const on = await settings('PATCH', '/v1/settings', { body: { requireIfMatch: true } });
    const contacts = as('contacts')(other);
    const created = await contacts('POST', '/v1/contacts', { body: makeContact() });
    expect((await contacts('PATCH', `/v1/contacts/${created.body.id}`, { body: { jobTitle: 'A' } })).status).toBe(428);
    const off = await settings('PATCH', '/v1/settings', {
      body: { requireIfMatch: false },
      headers: { 'if-match': on.headers.etag! },
    });
    expect(off.status).toBe(200);
    expect((await contacts('PATCH', `/v1/contacts/${created.body.id}`, { body: { jobTitle: 'A' } })).status).toBe(200);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Handler = Parameters<typeof apiClient>[0];
const handlers: Record<'settings' | 'contacts' | 'companies', Handler> = {} as never;
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
});

async function withPolicy(contactDuplicates: string, companyDuplicates = contactDuplicates): Promise<string> {
  const tenant = uniqueTenant('dup');
  const res = await as('settings')(tenant)('PATCH', '/v1/settings', { body: { contactDuplicates, companyDuplicates } });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ contactDuplicates, companyDuplicates });
  return tenant;
}

/** A contact without the factory's shared phone number, so only what a test names can collide. */
const person = (overrides: Record<string, unknown>) => makeContact({ phones: [], ...overrides });

const created = (res: TestResponse) => {
  expect(res.status).toBe(201);
  return res.body.id as string;
};

describe('duplicate policy in the settings', () => {
  it('defaults to allow for both (today’s behaviour), and null puts a policy back to it', async () => {
    const tenant = uniqueTenant('dup');
    const settings = as('settings')(tenant);
    expect((await settings('GET', '/v1/settings')).body).toMatchObject({
      contactDuplicates: 'allow',
      companyDuplicates: 'allow',
    });
    await settings('PATCH', '/v1/settings', { body: { contactDuplicates: 'block' } });
    const reset = await settings('PATCH', '/v1/settings', { body: { contactDuplicates: null } });
    expect(reset.body).toMatchObject({ contactDuplicates: 'allow', version: 2 });
    const bad = await settings('PATCH', '/v1/settings', { body: { contactDuplicates: 'deny' } });
    expect(bad.status).toBe(400);
    expect(bad.body.fieldErrors[0].field).toBe('body.contactDuplicates');
  });

  it('allow: the same email makes two contacts, with no duplicates in the response', async () => {
    const tenant = await withPolicy('allow');
    const contacts = as('contacts')(tenant);
    const first = await contacts('POST', '/v1/contacts', { body: person({ emails: ['same@example.com'] }) });
    const second = await contacts('POST', '/v1/contacts', { body: person({ emails: ['same@example.com'] }) });
    expect(created(first)).not.toBe(created(second));
    expect(second.body.duplicates).toBeUndefined();
  });
});

describe('block', () => {
  it('refuses a second contact with the same email (any case) with 409 naming the first', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const first = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['Ada@Example.com'] }) }));
    const again = await contacts('POST', '/v1/contacts', { body: person({ emails: ['ada@example.COM'] }) });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      code: 'contact.duplicate',
      existingId: first,
      matched: { key: 'email', value: 'ada@example.com' },
    });
    const list = await contacts('GET', '/v1/contacts?email=ada@example.com');
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([first]);
  });

  it('replays a retried create (same Idempotency-Key) instead of refusing it as its own duplicate', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const body = person({ emails: ['retry@example.com'] });
    const headers = { 'idempotency-key': 'retry-1' };
    const first = await contacts('POST', '/v1/contacts', { body, headers });
    const retry = await contacts('POST', '/v1/contacts', { body, headers });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.id).toBe(created(first));
  });

  it('refuses the same phone in another notation (normalised to E.164)', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const first = created(
      await contacts('POST', '/v1/contacts', { body: makeContact({ phones: ['+44 20 7946 0018'] }) }),
    );
    const again = await contacts('POST', '/v1/contacts', {
      body: makeContact({ phones: ['020 7946 0018'], address: { country: 'GB' } }),
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ existingId: first, matched: { key: 'phone' } });
  });

  it('20 concurrent creates with the same email make exactly 1 contact; 19 answer 409 naming it', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        contacts('POST', '/v1/contacts', { body: person({ firstName: `Racer${i}`, emails: ['race@example.com'] }) }),
      ),
    );
    const winners = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    expect(winners).toHaveLength(1);
    expect(refused).toHaveLength(19);
    const winner = winners[0]!.body.id;
    for (const r of refused) expect(r.body).toMatchObject({ code: 'contact.duplicate', existingId: winner });
    const list = await contacts('GET', '/v1/contacts?email=race@example.com');
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([winner]);
  });

  it('applies to patches, frees a deleted record’s keys, and refuses a restore whose key was taken meanwhile', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const a = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['a@example.com'] }) }));
    const b = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['b@example.com'] }) }));
    const patch = await contacts('PATCH', `/v1/contacts/${b}`, {
      body: { emails: ['b@example.com', 'a@example.com'] },
    });
    expect(patch.status).toBe(409);
    expect(patch.body).toMatchObject({ code: 'contact.duplicate', existingId: a });
    // Removing an address frees it at once.
    expect((await contacts('PATCH', `/v1/contacts/${a}`, { body: { emails: ['a2@example.com'] } })).status).toBe(200);
    expect((await contacts('PATCH', `/v1/contacts/${b}`, { body: { emails: ['a@example.com'] } })).status).toBe(200);
    // Deleting frees the keys; restoring after someone took one is refused.
    expect((await contacts('DELETE', `/v1/contacts/${b}`)).status).toBe(204);
    const c = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['a@example.com'] }) }));
    const restore = await contacts('POST', `/v1/contacts/${b}/restore`);
    expect(restore.status).toBe(409);
    expect(restore.body).toMatchObject({ code: 'contact.duplicate', existingId: c });
    // Once c lets go, the restore goes through and b holds the address again.
    expect((await contacts('DELETE', `/v1/contacts/${c}`)).status).toBe(204);
    expect((await contacts('POST', `/v1/contacts/${b}/restore`)).status).toBe(200);
    const again = await contacts('POST', '/v1/contacts', { body: person({ emails: ['a@example.com'] }) });
    expect(again.body).toMatchObject({ code: 'contact.duplicate', existingId: b });
  });

  it('switching from allow to block keeps existing duplicates and refuses new ones naming one of them', async () => {
    const tenant = await withPolicy('allow');
    const contacts = as('contacts')(tenant);
    const x = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['old@example.com'] }) }));
    const y = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['old@example.com'] }) }));
    await as('settings')(tenant)('PATCH', '/v1/settings', { body: { contactDuplicates: 'block' } });
    const refused = await contacts('POST', '/v1/contacts', { body: person({ emails: ['old@example.com'] }) });
    expect(refused.status).toBe(409);
    expect([x, y]).toContain(refused.body.existingId);
    // The existing duplicates stay editable: a patch that does not add a value is not checked.
    expect((await contacts('PATCH', `/v1/contacts/${y}`, { body: { jobTitle: 'Twin' } })).status).toBe(200);
  });

  it('claims outlive a switch back to allow and are taken over once stale', async () => {
    const tenant = await withPolicy('block');
    const contacts = as('contacts')(tenant);
    const settings = as('settings')(tenant);
    const a = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['s@example.com'] }) }));
    await settings('PATCH', '/v1/settings', { body: { contactDuplicates: 'allow' } });
    // Under allow nothing is released: a's claim stays, though a no longer holds the address.
    expect((await contacts('PATCH', `/v1/contacts/${a}`, { body: { emails: ['other@example.com'] } })).status).toBe(
      200,
    );
    await settings('PATCH', '/v1/settings', { body: { contactDuplicates: 'block' } });
    const b = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['s@example.com'] }) }));
    const c = await contacts('POST', '/v1/contacts', { body: person({ emails: ['s@example.com'] }) });
    expect(c.body).toMatchObject({ code: 'contact.duplicate', existingId: b });
  });

  it('companies: the same domain (given as a URL) is refused with company.duplicate', async () => {
    const tenant = await withPolicy('allow', 'block');
    const companies = as('companies')(tenant);
    const first = created(
      await companies('POST', '/v1/companies', { body: makeCompany({ domains: ['acme.example'] }) }),
    );
    const again = await companies('POST', '/v1/companies', {
      body: makeCompany({ domains: ['https://www.acme.example/about'] }),
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'company.duplicate', existingId: first, matched: { key: 'domain' } });
  });

  it('keeps tenants apart: the same email is free in another tenant', async () => {
    const one = await withPolicy('block');
    const two = await withPolicy('block');
    created(await as('contacts')(one)('POST', '/v1/contacts', { body: person({ emails: ['t@example.com'] }) }));
    created(await as('contacts')(two)('POST', '/v1/contacts', { body: person({ emails: ['t@example.com'] }) }));
  });
});

describe('warn', () => {
  it('creates the contact and lists the candidates with what matched, also on an idempotent replay', async () => {
    const tenant = await withPolicy('warn');
    const contacts = as('contacts')(tenant);
    const a = created(
      await contacts('POST', '/v1/contacts', {
        body: person({ emails: ['w@example.com'], phones: ['+14155550100'] }),
      }),
    );
    const headers = { 'idempotency-key': 'warn-1' };
    const body = person({ emails: ['x@example.com', 'w@example.com'], phones: ['+1 415 555 0100'] });
    const b = await contacts('POST', '/v1/contacts', { body, headers });
    expect(b.status).toBe(201);
    expect(b.body.duplicates).toEqual([{ id: a, matched: ['email', 'phone'] }]);
    const replay = await contacts('POST', '/v1/contacts', { body, headers });
    expect(replay.body).toEqual(b.body);
    // The stored contact has no `duplicates`: it describes the write, not the record.
    expect((await contacts('GET', `/v1/contacts/${b.body.id}`)).body.duplicates).toBeUndefined();
  });

  it('applies to patches and to companies: the patch that adds a shared domain answers with the candidate', async () => {
    const tenant = await withPolicy('allow', 'warn');
    const companies = as('companies')(tenant);
    const a = created(await companies('POST', '/v1/companies', { body: makeCompany({ domains: ['w.example'] }) }));
    const b = created(await companies('POST', '/v1/companies', { body: makeCompany({ domains: ['v.example'] }) }));
    const patched = await companies('PATCH', `/v1/companies/${b}`, { body: { domains: ['v.example', 'w.example'] } });
    expect(patched.status).toBe(200);
    expect(patched.body.duplicates).toEqual([{ id: a, matched: ['domain'] }]);
    const other = await companies('PATCH', `/v1/companies/${b}`, { body: { industry: 'Tools' } });
    expect(other.body.duplicates).toBeUndefined();
  });
});

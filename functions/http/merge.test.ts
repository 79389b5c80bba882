import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Handler = Parameters<typeof apiClient>[0];
const handlers: Record<'settings' | 'contacts' | 'companies' | 'merge', Handler> = {} as never;
const as =
  (group: keyof typeof handlers) =>
  (tenantId: string, roles: string[] = ['admin'], userId = 'user-1'): Client =>
    apiClient(handlers[group], { tenantId, roles, userId });

beforeAll(async () => {
  await useFreshTable();
  handlers.settings = (await import('./settings.ts')).handler;
  handlers.contacts = (await import('./contacts.ts')).handler;
  handlers.companies = (await import('./companies.ts')).handler;
  handlers.merge = (await import('./merge.ts')).handler;
});

const created = (res: TestResponse) => {
  expect(res.status).toBe(201);
  return res.body as Record<string, unknown> & { id: string; version: number };
};
const person = (overrides: Record<string, unknown>) => makeContact({ phones: [], ...overrides });

describe('POST /v1/contacts/merge', () => {
  it('merges fields, makes the loser a 301 redirect off every list and lookup, and moves its keys', async () => {
    const tenant = uniqueTenant('merge');
    const contacts = as('contacts')(tenant);
    const winner = created(
      await contacts('POST', '/v1/contacts', {
        body: person({
          firstName: 'Ada',
          lastName: 'Lovelace',
          emails: ['ada@a.example'],
          jobTitle: undefined,
          tags: ['vip'],
        }),
      }),
    );
    const loser = created(
      await contacts('POST', '/v1/contacts', {
        body: person({
          firstName: 'Augusta',
          lastName: 'King',
          emails: ['ada@b.example'],
          phones: ['+14155550100'],
          jobTitle: 'Countess',
          tags: ['math'],
        }),
      }),
    );
    const res = await as('merge')(tenant)('POST', '/v1/contacts/merge', {
      body: { winnerId: winner.id, loserId: loser.id, fields: { lastName: 'loser' } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe(`"${winner.version + 1}"`);
    expect(res.body).toMatchObject({
      id: winner.id,
      firstName: 'Ada',
      lastName: 'King',
      jobTitle: 'Countess',
      emails: ['ada@a.example', 'ada@b.example'],
      phones: ['+14155550100'],
      tags: ['vip', 'math'],
      version: winner.version + 1,
    });
    expect(res.body.mergedInto).toBeUndefined();

    const moved = await contacts('GET', `/v1/contacts/${loser.id}`);
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe(`/v1/contacts/${winner.id}`);
    expect(moved.headers['content-type']).toBe('application/problem+json');
    expect(moved.body).toMatchObject({ code: 'contact.merged', mergedInto: winner.id });

    const byEmail = await contacts('GET', '/v1/contacts?email=ada@b.example');
    expect(byEmail.body.items.map((c: { id: string }) => c.id)).toEqual([winner.id]);
    const byName = await contacts('GET', '/v1/contacts?limit=100');
    expect(byName.body.items.map((c: { id: string }) => c.id)).toEqual([winner.id]);
    const trash = await contacts('GET', '/v1/contacts?inTrash=true');
    expect(trash.body.items).toEqual([]);

    const patchLoser = await contacts('PATCH', `/v1/contacts/${loser.id}`, { body: { jobTitle: 'x' } });
    expect(patchLoser.status).toBe(409);
    expect(patchLoser.body).toMatchObject({ code: 'contact.merged', mergedInto: winner.id });
  });

  it('is idempotent: the same merge again answers the winner; with an Idempotency-Key, the first response', async () => {
    const tenant = uniqueTenant('merge');
    const contacts = as('contacts')(tenant);
    const merge = as('merge')(tenant);
    const w = created(await contacts('POST', '/v1/contacts', { body: person({}) }));
    const l = created(await contacts('POST', '/v1/contacts', { body: person({}) }));
    const body = { winnerId: w.id, loserId: l.id };
    const headers = { 'idempotency-key': 'merge-1' };
    const first = await merge('POST', '/v1/contacts/merge', { body, headers });
    expect(first.status).toBe(200);
    const again = await merge('POST', '/v1/contacts/merge', { body, headers });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const withoutKey = await merge('POST', '/v1/contacts/merge', { body });
    expect(withoutKey.status).toBe(200);
    expect(withoutKey.body).toMatchObject({ id: w.id, version: first.body.version });
    const otherBody = await merge('POST', '/v1/contacts/merge', {
      body: { ...body, fields: { firstName: 'loser' } },
      headers,
    });
    expect(otherBody.status).toBe(422);
  });

  it('refuses merging into itself, into a merged contact, a contact merged elsewhere, and a stale If-Match', async () => {
    const tenant = uniqueTenant('merge');
    const contacts = as('contacts')(tenant);
    const merge = as('merge')(tenant);
    const [a, b, c, d] = await Promise.all(
      [1, 2, 3, 4].map(async () => created(await contacts('POST', '/v1/contacts', { body: person({}) }))),
    );
    const self = await merge('POST', '/v1/contacts/merge', { body: { winnerId: a!.id, loserId: a!.id } });
    expect(self.status).toBe(400);
    expect(self.body.fieldErrors[0].field).toBe('body.loserId');
    const stale = await merge('POST', '/v1/contacts/merge', {
      body: { winnerId: a!.id, loserId: b!.id },
      headers: { 'if-match': '"99"' },
    });
    expect(stale.status).toBe(412);
    expect((await merge('POST', '/v1/contacts/merge', { body: { winnerId: a!.id, loserId: b!.id } })).status).toBe(200);
    const intoLoser = await merge('POST', '/v1/contacts/merge', { body: { winnerId: b!.id, loserId: c!.id } });
    expect(intoLoser.status).toBe(409);
    expect(intoLoser.body).toMatchObject({ code: 'contact.merge_into_merged', mergedInto: a!.id });
    const elsewhere = await merge('POST', '/v1/contacts/merge', { body: { winnerId: d!.id, loserId: b!.id } });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body).toMatchObject({ code: 'contact.already_merged', mergedInto: a!.id });
    const missing = await merge('POST', '/v1/contacts/merge', {
      body: { winnerId: a!.id, loserId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
    });
    expect(missing.status).toBe(404);
    const unknownField = await merge('POST', '/v1/contacts/merge', {
      body: { winnerId: a!.id, loserId: c!.id, fields: { nickname: 'loser' } },
    });
    expect(unknownField.status).toBe(400);
  });

  it('under concurrency: one loser merged into 5 winners at once goes to exactly one of them', async () => {
    const tenant = uniqueTenant('merge');
    const contacts = as('contacts')(tenant);
    const loser = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['l@race.example'] }) }));
    const winners = await Promise.all(
      [1, 2, 3, 4, 5].map(async () => created(await contacts('POST', '/v1/contacts', { body: person({}) })).id),
    );
    const results = await Promise.all(
      winners.map((winnerId) =>
        as('merge')(tenant)('POST', '/v1/contacts/merge', { body: { winnerId, loserId: loser.id } }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    // Each other one lost the race for the loser: 409 (retry, and it answers contact.already_merged).
    for (const r of results.filter((x) => x.status !== 200)) expect(r.status).toBe(409);
    const into = ok[0]!.body.id;
    expect((await contacts('GET', `/v1/contacts/${loser.id}`)).body.mergedInto).toBe(into);
    const byEmail = await contacts('GET', '/v1/contacts?email=l@race.example');
    expect(byEmail.body.items.map((c: { id: string }) => c.id)).toEqual([into]);
    for (const other of winners.filter((w) => w !== into)) {
      expect((await contacts('GET', `/v1/contacts/${other}`)).body.emails).not.toContain('l@race.example');
    }
  });

  it('needs contacts:merge', async () => {
    const tenant = uniqueTenant('merge');
    const res = await as('merge')(tenant, ['sales'])('POST', '/v1/contacts/merge', {
      body: { winnerId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', loserId: '01ARZ3NDEKTSV4RRFFQ69G5FAW' },
    });
    expect(res.status).toBe(403);
  });

  it('under block, the loser’s email moves to the winner: a new contact with it is refused naming the winner', async () => {
    const tenant = uniqueTenant('merge');
    await as('settings')(tenant)('PATCH', '/v1/settings', { body: { contactDuplicates: 'block' } });
    const contacts = as('contacts')(tenant);
    const w = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['w@x.example'] }) }));
    const l = created(await contacts('POST', '/v1/contacts', { body: person({ emails: ['l@x.example'] }) }));
    expect(
      (await as('merge')(tenant)('POST', '/v1/contacts/merge', { body: { winnerId: w.id, loserId: l.id } })).status,
    ).toBe(200);
    const again = await contacts('POST', '/v1/contacts', { body: person({ emails: ['l@x.example'] }) });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'contact.duplicate', existingId: w.id });
  });

  it('keeps tenants apart: another tenant cannot merge or see the records', async () => {
    const one = uniqueTenant('merge');
    const contacts = as('contacts')(one);
    const w = created(await contacts('POST', '/v1/contacts', { body: person({}) }));
    const l = created(await contacts('POST', '/v1/contacts', { body: person({}) }));
    const res = await as('merge')(uniqueTenant('other'))('POST', '/v1/contacts/merge', {
      body: { winnerId: w.id, loserId: l.id },
    });
    expect(res.status).toBe(404);
    expect((await contacts('GET', `/v1/contacts/${l.id}`)).status).toBe(200);
  });
});

describe('POST /v1/companies/merge', () => {
  it('unites domains and makes the loser redirect', async () => {
    const tenant = uniqueTenant('merge');
    const companies = as('companies')(tenant);
    const w = created(await companies('POST', '/v1/companies', { body: makeCompany({ domains: ['a.example'] }) }));
    const l = created(
      await companies('POST', '/v1/companies', { body: makeCompany({ domains: ['b.example'], employeeCount: 12 }) }),
    );
    const res = await as('merge')(tenant)('POST', '/v1/companies/merge', {
      body: { winnerId: w.id, loserId: l.id, fields: { name: 'loser' } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: l.name, domains: ['a.example', 'b.example'], employeeCount: 12 });
    const moved = await companies('GET', `/v1/companies/${l.id}`);
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe(`/v1/companies/${w.id}`);
  });
});

import type { Context, EventBridgeEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogEvent, type DetailType } from '../../events/catalog.ts';
import { makeCompany, makeContact, makeNote, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Handler = Parameters<typeof apiClient>[0];
type Consumer = (event: EventBridgeEvent<string, unknown>, context: Context) => Promise<void>;
const handlers: Record<
  'contacts' | 'companies' | 'notes' | 'merge' | 'duplicates' | 'deals' | 'catalog' | 'activities',
  Handler
> = {} as never;
let candidatesConsumer: Consumer;
let mergeConsumer: Consumer;
const as =
  (group: keyof typeof handlers) =>
  (tenantId: string, roles: string[] = ['admin'], userId = 'user-1'): Client =>
    apiClient(handlers[group], { tenantId, roles, userId });

const context = {
  functionName: 'consumer',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

beforeAll(async () => {
  await useFreshTable();
  Object.assign(process.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' });
  handlers.contacts = (await import('./contacts.ts')).handler;
  handlers.companies = (await import('./companies.ts')).handler;
  handlers.notes = (await import('./notes.ts')).handler;
  handlers.merge = (await import('./merge.ts')).handler;
  handlers.duplicates = (await import('./duplicates.ts')).handler;
  handlers.deals = (await import('./deals.ts')).handler;
  handlers.catalog = (await import('./catalog.ts')).handler;
  handlers.activities = (await import('./activities.ts')).handler;
  candidatesConsumer = (await import('../events/duplicate-candidates.ts')).handler as unknown as Consumer;
  mergeConsumer = (await import('../events/merge-children.ts')).handler as unknown as Consumer;
});

/** What EventBridge delivers for a change of a record (the consumers read the record itself from the table). */
function delivered(type: DetailType, tenantId: string, entity: 'contact' | 'company', entityId: string) {
  const event = catalogEvent(type, {
    schemaVersion: 2,
    tenantId,
    entity: entity as 'contact',
    entityId,
    version: 1,
    occurredAt: new Date().toISOString(),
    changes: {},
    record: { id: entityId },
  });
  return {
    version: '0',
    id: `evt-${entityId}-${type}`,
    'detail-type': event.detailType,
    source: event.source,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: event.detail,
  } as EventBridgeEvent<string, unknown>;
}

const created = (res: TestResponse) => {
  expect(res.status).toBe(201);
  return res.body.id as string;
};
const person = (overrides: Record<string, unknown>) => makeContact({ phones: [], ...overrides });

async function contactWith(tenant: string, body: Record<string, unknown>): Promise<string> {
  const id = created(await as('contacts')(tenant)('POST', '/v1/contacts', { body: person(body) }));
  await candidatesConsumer(delivered('contact.created', tenant, 'contact', id), context);
  return id;
}

describe('GET /v1/duplicates', () => {
  it('pairs contacts sharing an email, a phone or a folded name, saying what matched, and pages with a cursor', async () => {
    const tenant = uniqueTenant('cand');
    const a = await contactWith(tenant, { firstName: 'Ada', lastName: 'Lovelace', emails: ['ada@x.example'] });
    const b = await contactWith(tenant, { firstName: 'ADA', lastName: 'Lovelacé', emails: ['ada@x.example'] });
    const c = await contactWith(tenant, { firstName: 'Grace', lastName: 'Hopper', phones: ['+14155550100'] });
    const d = await contactWith(tenant, { firstName: 'Amazing', lastName: 'Grace', phones: ['+1 415 555 0100'] });
    await contactWith(tenant, { firstName: 'Alan', lastName: 'Turing' });
    const list = as('duplicates')(tenant);
    const first = await list('GET', '/v1/duplicates?entity=contact&limit=1');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    const second = await list('GET', `/v1/duplicates?entity=contact&limit=1&cursor=${first.body.nextCursor}`);
    const pairs = [...first.body.items, ...second.body.items];
    const byRecords = Object.fromEntries(
      pairs.map((p: { recordIds: string[]; matched: string[] }) => [[...p.recordIds].sort().join(','), p.matched]),
    );
    expect(byRecords).toEqual({ [[a, b].sort().join(',')]: ['email', 'name'], [[c, d].sort().join(',')]: ['phone'] });
    if (second.body.nextCursor) {
      const third = await list('GET', `/v1/duplicates?entity=contact&limit=1&cursor=${second.body.nextCursor}`);
      expect(third.status).toBe(200);
      expect(third.body).toEqual({ items: [], nextCursor: null });
    }
    expect((await list('GET', '/v1/duplicates?entity=company')).body.items).toEqual([]);
  });

  it('drops a pair when the records stop matching, and when one is deleted', async () => {
    const tenant = uniqueTenant('cand');
    const contacts = as('contacts')(tenant);
    const a = await contactWith(tenant, { firstName: 'Ann', lastName: 'One', emails: ['s@x.example'] });
    const b = await contactWith(tenant, { firstName: 'Bob', lastName: 'Two', emails: ['s@x.example'] });
    const c = await contactWith(tenant, { firstName: 'Cy', lastName: 'Three', emails: ['s@x.example'] });
    const pairsOf = async () =>
      (await as('duplicates')(tenant)('GET', '/v1/duplicates?entity=contact')).body.items as Array<{
        recordIds: string[];
      }>;
    expect(await pairsOf()).toHaveLength(3);
    await contacts('PATCH', `/v1/contacts/${b}`, { body: { emails: ['b@x.example'] } });
    await candidatesConsumer(delivered('contact.updated', tenant, 'contact', b), context);
    expect((await pairsOf()).map((p) => [...p.recordIds].sort())).toEqual([[a, c].sort()]);
    await contacts('DELETE', `/v1/contacts/${c}`);
    await candidatesConsumer(delivered('contact.deleted', tenant, 'contact', c), context);
    // A redelivered event changes nothing.
    await candidatesConsumer(delivered('contact.deleted', tenant, 'contact', c), context);
    expect(await pairsOf()).toEqual([]);
  });

  it('pairs companies by domain and by name without legal form; dismissing keeps a pair out of the list', async () => {
    const tenant = uniqueTenant('cand');
    const companies = as('companies')(tenant);
    const a = created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Acme Inc.' }) }));
    const b = created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'ACME' }) }));
    for (const id of [a, b]) await candidatesConsumer(delivered('company.created', tenant, 'company', id), context);
    const list = as('duplicates')(tenant);
    const [pair] = (await list('GET', '/v1/duplicates?entity=company')).body.items;
    expect(pair).toMatchObject({ entity: 'company', matched: ['name'] });
    const dismissed = await list('POST', `/v1/duplicates/${pair.id}/dismiss`);
    expect(dismissed.status).toBe(200);
    expect((await list('POST', `/v1/duplicates/${pair.id}/dismiss`)).status).toBe(200);
    expect((await list('GET', '/v1/duplicates?entity=company')).body.items).toEqual([]);
    // Still matching after another change: it stays dismissed.
    await companies('PATCH', `/v1/companies/${b}`, { body: { industry: 'Anvils' } });
    await candidatesConsumer(delivered('company.updated', tenant, 'company', b), context);
    expect((await list('GET', '/v1/duplicates?entity=company')).body.items).toEqual([]);
  });

  it('refuses bad input with 400/404 and keeps tenants apart', async () => {
    const tenant = uniqueTenant('cand');
    const list = as('duplicates')(tenant);
    expect((await list('GET', '/v1/duplicates')).status).toBe(400);
    expect((await list('GET', '/v1/duplicates?entity=deal')).status).toBe(400);
    expect((await list('GET', '/v1/duplicates?entity=contact&cursor=abc')).status).toBe(400);
    expect((await list('POST', '/v1/duplicates/nope/dismiss')).status).toBe(400);
    expect((await list('POST', '/v1/duplicates/contact.A.B/dismiss')).status).toBe(404);
    const a = await contactWith(tenant, { emails: ['iso@x.example'] });
    const b = await contactWith(tenant, { emails: ['iso@x.example'] });
    const [pair] = (await list('GET', '/v1/duplicates?entity=contact')).body.items;
    expect([...pair.recordIds].sort()).toEqual([a, b].sort());
    const sales = as('duplicates')(tenant, ['sales']);
    expect((await sales('GET', '/v1/duplicates?entity=contact')).status).toBe(200);
    expect((await sales('POST', `/v1/duplicates/${pair.id}/dismiss`)).status).toBe(403);
    const other = as('duplicates')(uniqueTenant('other'));
    expect((await other('GET', '/v1/duplicates?entity=contact')).body.items).toEqual([]);
    expect((await other('POST', `/v1/duplicates/${pair.id}/dismiss`)).status).toBe(404);
  });
});

describe('merge movers (consumer of contact.merged / company.merged)', () => {
  it('moves the loser’s notes to the winner’s timeline keeping their ids, once', async () => {
    const tenant = uniqueTenant('move');
    const contacts = as('contacts')(tenant);
    const notes = as('notes')(tenant);
    const w = await contactWith(tenant, {});
    const l = await contactWith(tenant, {});
    const noteIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await notes('POST', `/v1/contacts/${l}/notes`, { body: makeNote() });
      noteIds.push(res.body.id);
    }
    const kept = await notes('POST', `/v1/contacts/${w}/notes`, { body: makeNote() });
    expect(
      (await as('merge')(tenant)('POST', '/v1/contacts/merge', { body: { winnerId: w, loserId: l } })).status,
    ).toBe(200);
    await mergeConsumer(delivered('contact.merged', tenant, 'contact', l), context);
    await mergeConsumer(delivered('contact.merged', tenant, 'contact', l), context);
    const timeline = await contacts('GET', `/v1/contacts/${w}/timeline`);
    const ids = timeline.body.items.map((e: { id: string }) => e.id).sort();
    expect(ids).toEqual([...noteIds, kept.body.id].sort());
    const note = await notes('GET', `/v1/notes/${noteIds[0]}`);
    expect(note.body).toMatchObject({ subjectType: 'contact', subjectId: w, version: 2 });
    expect((await contacts('GET', `/v1/contacts/${l}/timeline`)).body.items).toEqual([]);
  });

  it('moves a merged company’s contacts to the winner (companyId), and the pair of the two leaves the list', async () => {
    const tenant = uniqueTenant('move');
    const companies = as('companies')(tenant);
    const contacts = as('contacts')(tenant);
    const w = created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Globex' }) }));
    const l = created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Globex Ltd' }) }));
    for (const id of [w, l]) await candidatesConsumer(delivered('company.created', tenant, 'company', id), context);
    expect((await as('duplicates')(tenant)('GET', '/v1/duplicates?entity=company')).body.items).toHaveLength(1);
    const staff = [await contactWith(tenant, { companyId: l }), await contactWith(tenant, { companyId: l })];
    await as('merge')(tenant)('POST', '/v1/companies/merge', { body: { winnerId: w, loserId: l } });
    await mergeConsumer(delivered('company.merged', tenant, 'company', l), context);
    await candidatesConsumer(delivered('company.merged', tenant, 'company', l), context);
    await candidatesConsumer(delivered('company.updated', tenant, 'company', w), context);
    const moved = await companies('GET', `/v1/companies/${w}/contacts`);
    expect(moved.body.items.map((c: { id: string }) => c.id).sort()).toEqual([...staff].sort());
    for (const id of staff) expect((await contacts('GET', `/v1/contacts/${id}`)).body.companyId).toBe(w);
    expect((await as('duplicates')(tenant)('GET', '/v1/duplicates?entity=company')).body.items).toEqual([]);
  });

  it('moves deals and activities of a merged contact and company onto the winners, once', async () => {
    const tenant = uniqueTenant('move');
    const stages = [
      { id: 'open', name: 'Open' },
      { id: 'won', name: 'Won', kind: 'won' },
      { id: 'lost', name: 'Lost', kind: 'lost' },
    ];
    expect((await as('catalog')(tenant)('POST', '/v1/pipelines', { body: { name: 'P', stages } })).status).toBe(201);
    const companies = as('companies')(tenant);
    const [wCo, lCo] = [
      created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Initech' }) })),
      created(await companies('POST', '/v1/companies', { body: makeCompany({ name: 'Initrode' }) })),
    ];
    const [w, l] = [await contactWith(tenant, {}), await contactWith(tenant, {})];
    const deals = as('deals')(tenant);
    const deal = created(
      await deals('POST', '/v1/deals', {
        body: { name: 'Renewal', currency: 'EUR', amount: 100, contactIds: [l, w], companyId: lCo },
      }),
    );
    const activities = as('activities')(tenant);
    const call = created(
      await activities('POST', '/v1/activities', {
        body: {
          type: 'call',
          direction: 'outbound',
          links: [
            { type: 'contact', id: l },
            { type: 'company', id: lCo },
          ],
        },
      }),
    );
    const merge = as('merge')(tenant);
    expect((await merge('POST', '/v1/contacts/merge', { body: { winnerId: w, loserId: l } })).status).toBe(200);
    expect((await merge('POST', '/v1/companies/merge', { body: { winnerId: wCo, loserId: lCo } })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      await mergeConsumer(delivered('contact.merged', tenant, 'contact', l), context);
      await mergeConsumer(delivered('company.merged', tenant, 'company', lCo), context);
    }
    const moved = (await deals('GET', `/v1/deals/${deal}`)).body;
    expect(moved).toMatchObject({ contactIds: [w], companyId: wCo });
    const movedCall = (await activities('GET', `/v1/activities/${call}`)).body;
    expect(movedCall.links).toEqual([
      { type: 'contact', id: w },
      { type: 'company', id: wCo },
    ]);
    const idsOn = async (path: string) =>
      (
        (await (path.includes('companies') ? companies : as('contacts')(tenant))('GET', path)).body.items as Array<{
          id: string;
        }>
      ).map((e) => e.id);
    expect(await idsOn(`/v1/contacts/${w}/timeline`)).toEqual(expect.arrayContaining([deal, call]));
    expect(await idsOn(`/v1/companies/${wCo}/timeline`)).toEqual(expect.arrayContaining([deal, call]));
    expect(await idsOn(`/v1/contacts/${l}/timeline`)).toEqual([]);
    expect((await deals('GET', `/v1/deals?contactId=${w}`)).body.items.map((d: { id: string }) => d.id)).toEqual([
      deal,
    ]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let segmentsAs: (tenantId: string, roles?: string[]) => Client;
let contactsAs: (tenantId: string) => Client;
let customFieldsAs: (tenantId: string) => Client;

beforeAll(async () => {
  await useFreshTable();
  const segments = (await import('./segments.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  const customFields = (await import('./custom-fields.ts')).handler;
  segmentsAs = (tenantId, roles = ['marketing']) => apiClient(segments, { tenantId, roles, userId: 'mk-1' });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
  customFieldsAs = (tenantId) => apiClient(customFields, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) =>
  ((res.body.fieldErrors ?? []) as Array<{ field: string; code?: string }>).map((e) => `${e.field} ${e.code ?? ''}`);

async function newContact(tenantId: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await contactsAs(tenantId)('POST', '/v1/contacts', { body: makeContact(overrides) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const vip = { all: [{ field: 'tags', op: 'contains', value: 'vip' }] };

describe('segments', () => {
  it('creates dynamic segments and static lists, idempotently, with field-level 400s for bad filters', async () => {
    const t = uniqueTenant('seg');
    const api = segmentsAs(t);
    const body = { kind: 'dynamic', name: 'VIPs', filter: vip };
    const created = await api('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/segments/${created.body.id}`);
    expect(created.body).toMatchObject({
      kind: 'dynamic',
      name: 'VIPs',
      filter: vip,
      filterVersion: 1,
      memberCount: 0,
      backfill: { status: 'pending', evaluation: 1, processed: 0, matched: 0 },
      version: 1,
      createdBy: 'mk-1',
    });
    expect(created.body.tenantId).toBeUndefined();
    expect(created.body.sortName).toBeUndefined();
    const replay = await api('POST', '/v1/segments', { body, headers: { 'idempotency-key': 'seg-1' } });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(created.body.id);

    const list = await api('POST', '/v1/segments', { body: { kind: 'static', name: 'Webinar' } });
    expect(list.status).toBe(201);
    expect(list.body).toMatchObject({ kind: 'static', memberCount: 0 });
    expect(list.body.filter).toBeUndefined();
    expect(list.body.backfill).toBeUndefined();

    const bad = await api('POST', '/v1/segments', {
      body: {
        kind: 'dynamic',
        name: 'Bad',
        filter: {
          any: [
            { field: 'leadScore', op: 'gt', value: 5 },
            { field: 'tags', op: 'gt', value: 'a' },
            { field: 'custom.tier', op: 'eq', value: 'gold' },
            { field: 'engagement.opened', op: 'withinDays', value: 'seven' },
          ],
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('segment.invalid_filter');
    expect(fieldsOf(bad)).toEqual([
      'body.filter.any.0.field segment.unknown_field',
      'body.filter.any.1.op segment.operator_not_allowed',
      'body.filter.any.2.field segment.unknown_field',
      'body.filter.any.3.value segment.invalid_value',
    ]);
    // Once the tenant declares the custom field, it can be filtered on with its type.
    const declared = await customFieldsAs(t)('PUT', '/v1/custom-fields/contact', {
      body: { fields: [{ key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'] }] },
    });
    expect(declared.status).toBe(200);
    const tier = (value: unknown) =>
      api('POST', '/v1/segments', {
        body: { kind: 'dynamic', name: 'Gold', filter: { field: 'custom.tier', op: 'eq', value } },
      });
    expect((await tier('gold')).status).toBe(201);
    expect(fieldsOf(await tier('bronze'))).toEqual(['body.filter.value segment.invalid_value']);
    // Subscription categories likewise: only those the tenant has.
    const subscribed = () =>
      api('POST', '/v1/segments', {
        body: { kind: 'dynamic', name: 'News', filter: { field: 'subscriptions.news', op: 'eq', value: 'subscribed' } },
      });
    expect(fieldsOf(await subscribed())).toEqual(['body.filter.field segment.unknown_field']);
    const { putSubscriptionCategories } = await import('../../shared/subscriptions/service.ts');
    await putSubscriptionCategories(
      { tenantId: t, userId: 'admin-1', roles: ['admin'] } as never,
      { categories: [{ id: 'news', name: 'News' }] } as never,
      undefined,
    );
    expect((await subscribed()).status).toBe(201);

    expect(fieldsOf(await api('POST', '/v1/segments', { body: { kind: 'dynamic', name: 'x' } }))).toEqual([
      'body.filter ',
    ]);
    expect(fieldsOf(await api('POST', '/v1/segments', { body: { kind: 'static', name: 'x', filter: vip } }))).toEqual([
      'body.filter ',
    ]);
    const shape = await api('POST', '/v1/segments', {
      body: { kind: 'dynamic', name: 'x', filter: { all: [{ field: 'tags', op: 'like', value: 'a' }] } },
    });
    expect(shape.status).toBe(400);
    expect((await segmentsAs(t, ['readonly'])('POST', '/v1/segments', { body })).status).toBe(403);
  });

  it('lists by name with cursors, gets, patches with If-Match, deletes and restores', async () => {
    const t = uniqueTenant('seg');
    const api = segmentsAs(t);
    const ids: string[] = [];
    for (const name of ['Charlie', 'alpha', 'Bravo']) {
      ids.push((await api('POST', '/v1/segments', { body: { kind: 'dynamic', name, filter: vip } })).body.id as string);
    }
    const first = await api('GET', '/v1/segments?limit=2');
    expect(first.body.items.map((s: { name: string }) => s.name)).toEqual(['alpha', 'Bravo']);
    const second = await api('GET', `/v1/segments?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((s: { name: string }) => s.name)).toEqual(['Charlie']);
    expect(second.body.nextCursor).toBeNull();
    const forged = await segmentsAs(uniqueTenant('other'))('GET', `/v1/segments?cursor=${first.body.nextCursor}`);
    expect(forged.status).toBe(400);

    const id = ids[0]!;
    const got = await api('GET', `/v1/segments/${id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    expect((await segmentsAs(uniqueTenant('other'))('GET', `/v1/segments/${id}`)).status).toBe(404);

    const stale = await api('PATCH', `/v1/segments/${id}`, { body: { name: 'Delta' }, headers: { 'if-match': '"7"' } });
    expect(stale.status).toBe(412);
    const renamed = await api('PATCH', `/v1/segments/${id}`, {
      body: { name: 'Delta', description: 'Renamed' },
      headers: { 'if-match': '"1"' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Delta', description: 'Renamed', version: 2, filterVersion: 1 });
    expect((await api('GET', '/v1/segments')).body.items.map((s: { name: string }) => s.name)).toEqual([
      'alpha',
      'Bravo',
      'Delta',
    ]);
    const refiltered = await api('PATCH', `/v1/segments/${id}`, {
      body: { filter: { field: 'lifecycleStage', op: 'eq', value: 'customer' }, description: null },
      headers: { 'if-match': '"2"' },
    });
    expect(refiltered.body).toMatchObject({
      version: 3,
      filterVersion: 2,
      backfill: { status: 'pending', evaluation: 2, processed: 0 },
    });
    expect(refiltered.body.description).toBeUndefined();
    const badFilter = await api('PATCH', `/v1/segments/${id}`, {
      body: { filter: { field: 'lifecycleStage', op: 'eq', value: 'king' } },
    });
    expect(fieldsOf(badFilter)).toEqual(['body.filter.value segment.invalid_value']);

    expect((await api('DELETE', `/v1/segments/${id}`, { headers: { 'if-match': '"2"' } })).status).toBe(412);
    expect((await api('DELETE', `/v1/segments/${id}`, { headers: { 'if-match': '"3"' } })).status).toBe(204);
    expect((await api('GET', `/v1/segments/${id}`)).status).toBe(404);
    expect((await api('PATCH', `/v1/segments/${id}`, { body: { name: 'x' } })).status).toBe(404);
    const trash = await api('GET', '/v1/segments?inTrash=true');
    expect(trash.body.items.map((s: { id: string }) => s.id)).toEqual([id]);
    const restored = await api('POST', `/v1/segments/${id}/restore`);
    expect(restored.status).toBe(200);
    // A restored dynamic segment is evaluated afresh.
    expect(restored.body).toMatchObject({
      version: 5,
      filterVersion: 2,
      backfill: { status: 'pending', evaluation: 3 },
    });
    expect(restored.body.deletedAt).toBeUndefined();
    expect((await api('POST', `/v1/segments/${id}/restore`)).status).toBe(404);
    expect((await api('GET', '/v1/segments?inTrash=true')).body.items).toEqual([]);
  });

  it('adds and removes static list members in bulk, exactly counted and idempotent', async () => {
    const t = uniqueTenant('seg');
    const api = segmentsAs(t);
    const listId = (await api('POST', '/v1/segments', { body: { kind: 'static', name: 'Webinar' } })).body.id as string;
    const contacts = [await newContact(t), await newContact(t), await newContact(t)];
    const gone = await newContact(t);
    expect((await contactsAs(t)('DELETE', `/v1/contacts/${gone}`)).status).toBe(204);
    const foreign = await newContact(uniqueTenant('other'));

    const added = await api('POST', `/v1/segments/${listId}/members`, {
      body: { contactIds: [...contacts, contacts[0], gone, foreign, 'no-such-contact'] },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body).toEqual({
      changed: 3,
      unchanged: 0,
      notFound: [gone, foreign, 'no-such-contact'],
      memberCount: 3,
    });
    const again = await api('POST', `/v1/segments/${listId}/members`, { body: { contactIds: contacts } });
    expect(again.body).toEqual({ changed: 0, unchanged: 3, notFound: [], memberCount: 3 });
    // Racing adds of the same contacts count each once.
    const more = [await newContact(t), await newContact(t)];
    const raced = await Promise.all(
      [1, 2, 3].map(() => api('POST', `/v1/segments/${listId}/members`, { body: { contactIds: more } })),
    );
    expect(raced.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(raced.reduce((sum, r) => sum + (r.body.changed as number), 0)).toBe(2);
    expect((await api('GET', `/v1/segments/${listId}`)).body.memberCount).toBe(5);

    const page1 = await api('GET', `/v1/segments/${listId}/members?limit=3`);
    expect(page1.body.items).toHaveLength(3);
    const page2 = await api('GET', `/v1/segments/${listId}/members?limit=3&cursor=${page1.body.nextCursor}`);
    expect(page2.body.nextCursor).toBeNull();
    const memberIds = [...page1.body.items, ...page2.body.items].map((m: { contactId: string }) => m.contactId);
    expect(memberIds).toEqual([...contacts, ...more].sort());
    expect(page1.body.items[0]).toMatchObject({ source: 'manual' });
    const otherList = (await api('POST', '/v1/segments', { body: { kind: 'static', name: 'Other' } })).body.id;
    expect((await api('GET', `/v1/segments/${otherList}/members?cursor=${page1.body.nextCursor}`)).status).toBe(400);

    const removed = await api('POST', `/v1/segments/${listId}/members/remove`, {
      body: { contactIds: [contacts[0], contacts[1], 'never-a-member'] },
    });
    expect(removed.body).toEqual({ changed: 2, unchanged: 1, notFound: [], memberCount: 3 });
    const removedAgain = await api('POST', `/v1/segments/${listId}/members/remove`, {
      body: { contactIds: [contacts[0]] },
    });
    expect(removedAgain.body).toMatchObject({ changed: 0, unchanged: 1, memberCount: 3 });

    const tooMany = await api('POST', `/v1/segments/${listId}/members`, {
      body: { contactIds: Array.from({ length: 1001 }, (_, i) => `c${i}`) },
    });
    expect(tooMany.status).toBe(400);
    const dynamic = (await api('POST', '/v1/segments', { body: { kind: 'dynamic', name: 'D', filter: vip } })).body.id;
    const refused = await api('POST', `/v1/segments/${dynamic}/members`, { body: { contactIds: contacts } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('segment.not_static');
    expect((await api('POST', `/v1/segments/nope/members`, { body: { contactIds: contacts } })).status).toBe(404);
    expect((await segmentsAs(t, ['readonly'])('GET', `/v1/segments/${listId}/members`)).status).toBe(200);
    expect(
      (await segmentsAs(t, ['readonly'])('POST', `/v1/segments/${listId}/members`, { body: { contactIds: contacts } }))
        .status,
    ).toBe(403);
  });

  it('adds a large list in several transactions with an exact count', async () => {
    const t = uniqueTenant('seg');
    const api = segmentsAs(t);
    const listId = (await api('POST', '/v1/segments', { body: { kind: 'static', name: 'Big' } })).body.id as string;
    const { model } = await import('../../shared/db/store.ts');
    const now = new Date().toISOString();
    const ids = Array.from({ length: 120 }, (_, i) => `big-${String(i).padStart(3, '0')}`);
    for (const contactId of ids) {
      await model.entities.contact
        .put({ tenantId: t, contactId, sortName: contactId, version: 1, createdAt: now, updatedAt: now })
        .go();
    }
    const added = await api('POST', `/v1/segments/${listId}/members`, { body: { contactIds: ids } });
    expect(added.body).toEqual({ changed: 120, unchanged: 0, notFound: [], memberCount: 120 });
    const half = await api('POST', `/v1/segments/${listId}/members/remove`, { body: { contactIds: ids.slice(0, 60) } });
    expect(half.body).toMatchObject({ changed: 60, memberCount: 60 });
  });
});

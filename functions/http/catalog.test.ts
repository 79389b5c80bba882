import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
type Client = ReturnType<typeof apiClient>;
let catalogAs: (tenantId: string, roles?: string[]) => Client;
let dealsAs: (tenantId: string, roles?: string[]) => Client;

beforeAll(async () => {
  await useFreshTable();
  const catalog = (await import('./catalog.ts')).handler;
  const deals = (await import('./deals.ts')).handler;
  catalogAs = (tenantId, roles = ['admin']) => apiClient(catalog, { tenantId, roles, userId: 'admin-1' });
  dealsAs = (tenantId, roles = ['admin']) => apiClient(deals, { tenantId, roles, userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((p) => p.id);

const STAGES = [
  { id: 'qualify', name: 'Qualify', probability: 20 },
  { id: 'propose', name: 'Propose', probability: 60 },
  { id: 'won', name: 'Won', kind: 'won' },
  { id: 'lost', name: 'Lost', kind: 'lost' },
];

describe('products', () => {
  it('creates a product with prices in minor units per currency and reads it back', async () => {
    const t = uniqueTenant('prod');
    const api = catalogAs(t);
    const created = await api('POST', '/v1/products', {
      body: { sku: 'wid-1', name: 'Widget', prices: { EUR: 1999, JPY: 2500, BHD: 7505 } },
    });
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/products/${created.body.id}`);
    expect(created.body).toMatchObject({ sku: 'WID-1', name: 'Widget', active: true, prices: { EUR: 1999 } });
    const got = await api('GET', `/v1/products/${created.body.id}`);
    expect(got.body).toEqual(created.body);
    const bySku = await api('GET', '/v1/products?sku=Wid-1');
    expect(idsOf(bySku)).toEqual([created.body.id]);
  });

  it('refuses prices that are not integers of a known currency, with field errors', async () => {
    const api = catalogAs(uniqueTenant('prod'));
    const res = await api('POST', '/v1/products', {
      body: { sku: 'x', name: 'X', prices: { EUR: 19.99, usd: 100, XYZ: 1 } },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(expect.arrayContaining(['body.prices.EUR']));
    expect(res.body.fieldErrors.length).toBeGreaterThanOrEqual(3);
  });

  it('keeps SKUs unique per tenant: 409 with the existing id, also for concurrent creates and SKU changes', async () => {
    const t = uniqueTenant('sku');
    const api = catalogAs(t);
    const first = await api('POST', '/v1/products', { body: { sku: 'ABC', name: 'First' } });
    const dup = await api('POST', '/v1/products', { body: { sku: 'abc', name: 'Second' } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ code: 'product.sku_taken', existingId: first.body.id });

    const racing = await Promise.all(
      Array.from({ length: 10 }, (_, i) => api('POST', '/v1/products', { body: { sku: 'RACE', name: `R${i}` } })),
    );
    expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
    expect(racing.filter((r) => r.status === 409)).toHaveLength(9);

    const other = await api('POST', '/v1/products', { body: { sku: 'OTHER', name: 'Other' } });
    const clash = await api('PATCH', `/v1/products/${other.body.id}`, { body: { sku: 'ABC' } });
    expect(clash.status).toBe(409);
    const moved = await api('PATCH', `/v1/products/${other.body.id}`, { body: { sku: 'NEW' } });
    expect(moved.status).toBe(200);
    // The old SKU is free again, the new one taken.
    expect((await api('POST', '/v1/products', { body: { sku: 'OTHER', name: 'Reuse' } })).status).toBe(201);
    expect((await api('POST', '/v1/products', { body: { sku: 'NEW', name: 'Clash' } })).status).toBe(409);
    // Another tenant may use the same SKU.
    expect(
      (await catalogAs(uniqueTenant('sku'))('POST', '/v1/products', { body: { sku: 'ABC', name: 'A' } })).status,
    ).toBe(201);
  });

  it('patches prices per currency, lists active ones and by name prefix, deletes and restores', async () => {
    const t = uniqueTenant('prod');
    const api = catalogAs(t);
    const a = await api('POST', '/v1/products', { body: { sku: 'A', name: 'Alpha', prices: { EUR: 100, USD: 120 } } });
    const b = await api('POST', '/v1/products', { body: { sku: 'B', name: 'Beta', active: false } });
    const patched = await api('PATCH', `/v1/products/${a.body.id}`, {
      body: { prices: { USD: null, JPY: 150 } },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.body.prices).toEqual({ EUR: 100, JPY: 150 });
    const stale = await api('PATCH', `/v1/products/${a.body.id}`, {
      body: { name: 'X' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(idsOf(await api('GET', '/v1/products?active=true'))).toEqual([a.body.id]);
    expect(idsOf(await api('GET', '/v1/products'))).toEqual([a.body.id, b.body.id]);
    expect(idsOf(await api('GET', '/v1/products?q=bet'))).toEqual([b.body.id]);

    expect((await api('DELETE', `/v1/products/${a.body.id}`)).status).toBe(204);
    expect((await api('GET', `/v1/products/${a.body.id}`)).status).toBe(404);
    expect(idsOf(await api('GET', '/v1/products?inTrash=true'))).toEqual([a.body.id]);
    expect(idsOf(await api('GET', '/v1/products?sku=A'))).toEqual([]);
    const taker = await api('POST', '/v1/products', { body: { sku: 'A', name: 'Taker' } });
    expect((await api('POST', `/v1/products/${a.body.id}/restore`)).status).toBe(409);
    await api('DELETE', `/v1/products/${taker.body.id}`);
    const restored = await api('POST', `/v1/products/${a.body.id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body.deletedAt).toBeUndefined();
  });

  it('replays a create with the same Idempotency-Key and refuses the key for another body', async () => {
    const api = catalogAs(uniqueTenant('idem'));
    const body = { sku: 'IDEM', name: 'Once' };
    const first = await api('POST', '/v1/products', { body, headers: { 'idempotency-key': 'k1' } });
    const again = await api('POST', '/v1/products', { body, headers: { 'idempotency-key': 'k1' } });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const reused = await api('POST', '/v1/products', {
      body: { sku: 'IDEM2', name: 'Other' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(reused.status).toBe(422);
  });

  it('lets sales read but not manage the catalogue', async () => {
    const t = uniqueTenant('roles');
    expect((await catalogAs(t, ['sales'])('GET', '/v1/products')).status).toBe(200);
    expect((await catalogAs(t, ['sales'])('POST', '/v1/products', { body: { sku: 'S', name: 'S' } })).status).toBe(403);
    expect(
      (await catalogAs(t, ['sales'])('POST', '/v1/pipelines', { body: { name: 'P', stages: STAGES } })).status,
    ).toBe(403);
  });

  it('keeps tenants apart', async () => {
    const a = await catalogAs(uniqueTenant('iso'))('POST', '/v1/products', { body: { sku: 'I', name: 'Iso' } });
    const other = catalogAs(uniqueTenant('iso'));
    expect((await other('GET', `/v1/products/${a.body.id}`)).status).toBe(404);
    expect((await other('PATCH', `/v1/products/${a.body.id}`, { body: { name: 'x' } })).status).toBe(404);
    expect((await other('DELETE', `/v1/products/${a.body.id}`)).status).toBe(404);
  });
});

describe('pipelines', () => {
  it('creates stages with default probabilities; the first pipeline is the default', async () => {
    const api = catalogAs(uniqueTenant('pipe'));
    const first = await api('POST', '/v1/pipelines', { body: { name: 'Sales', stages: STAGES } });
    expect(first.status).toBe(201);
    expect(first.body.isDefault).toBe(true);
    expect(first.body.stages).toEqual([
      { id: 'qualify', name: 'Qualify', probability: 20, kind: 'open' },
      { id: 'propose', name: 'Propose', probability: 60, kind: 'open' },
      { id: 'won', name: 'Won', probability: 100, kind: 'won' },
      { id: 'lost', name: 'Lost', probability: 0, kind: 'lost' },
    ]);
    const second = await api('POST', '/v1/pipelines', { body: { name: 'Renewals', stages: STAGES } });
    expect(second.body.isDefault).toBe(false);
    const third = await api('POST', '/v1/pipelines', { body: { name: 'Enterprise', stages: STAGES, isDefault: true } });
    expect(third.body.isDefault).toBe(true);
    const firstNow = await api('GET', `/v1/pipelines/${first.body.id}`);
    expect(firstNow.body.isDefault).toBe(false);
    expect(firstNow.body.version).toBe(2);
    const listed = await api('GET', '/v1/pipelines');
    expect(listed.body.items.map((p: { name: string }) => p.name)).toEqual(['Enterprise', 'Renewals', 'Sales']);

    const made = await api('PATCH', `/v1/pipelines/${second.body.id}`, { body: { isDefault: true } });
    expect(made.body.isDefault).toBe(true);
    expect((await api('GET', `/v1/pipelines/${third.body.id}`)).body.isDefault).toBe(false);
    const refused = await api('DELETE', `/v1/pipelines/${second.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('pipeline.is_default');
    expect((await api('DELETE', `/v1/pipelines/${third.body.id}`)).status).toBe(204);
    expect((await api('GET', `/v1/pipelines/${third.body.id}`)).status).toBe(404);
  });

  it('needs a won and a lost stage and unique stage ids and names', async () => {
    const api = catalogAs(uniqueTenant('pipe'));
    const noLost = await api('POST', '/v1/pipelines', {
      body: { name: 'P', stages: [{ name: 'A' }, { name: 'W', kind: 'won' }] },
    });
    expect(noLost.status).toBe(400);
    const dupes = await api('POST', '/v1/pipelines', {
      body: { name: 'P', stages: [...STAGES, { id: 'won', name: 'qualify' }] },
    });
    expect(dupes.status).toBe(400);
    expect(fieldsOf(dupes)).toEqual(expect.arrayContaining(['body.stages.4.id', 'body.stages.4.name']));
  });

  it('refuses to remove (or change the kind of) a stage that holds deals, naming the count; allows it once empty', async () => {
    const t = uniqueTenant('pipe');
    const api = catalogAs(t);
    const pipeline = await api('POST', '/v1/pipelines', { body: { name: 'Sales', stages: STAGES } });
    const pid = pipeline.body.id;
    const deals = dealsAs(t);
    const ids: string[] = [];
    for (const name of ['One', 'Two']) {
      const deal = await deals('POST', '/v1/deals', {
        body: { name, currency: 'EUR', amount: 100, stageId: 'propose' },
      });
      expect(deal.status).toBe(201);
      ids.push(deal.body.id);
    }
    const without = STAGES.filter((s) => s.id !== 'propose');
    const refused = await api('PATCH', `/v1/pipelines/${pid}`, { body: { stages: without } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'pipeline.stage_has_deals',
      stages: [{ id: 'propose', name: 'Propose', deals: 2 }],
    });
    expect(refused.body.detail).toContain('Propose (2 deals)');
    const rekind = await api('PATCH', `/v1/pipelines/${pid}`, {
      body: { stages: STAGES.map((s) => (s.id === 'propose' ? { ...s, kind: 'lost' } : s)) },
    });
    expect(rekind.status).toBe(409);
    // A pipeline that is not the default but holds deals cannot be deleted either.
    const other = await api('POST', '/v1/pipelines', { body: { name: 'Other', stages: STAGES } });
    await deals('POST', '/v1/deals', { body: { name: 'Elsewhere', currency: 'EUR', pipelineId: other.body.id } });
    const busy = await api('DELETE', `/v1/pipelines/${other.body.id}`);
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ code: 'pipeline.stage_has_deals', stages: [{ id: 'qualify', deals: 1 }] });

    for (const id of ids) await deals('POST', `/v1/deals/${id}/stage`, { body: { stageId: 'qualify' } });
    const renamed = [...without.slice(0, 1), { id: 'demo', name: 'Demo' }, ...without.slice(1)];
    const ok = await api('PATCH', `/v1/pipelines/${pid}`, {
      body: { stages: renamed },
      headers: { 'if-match': '"1"' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.stages.map((s: { id: string }) => s.id)).toEqual(['qualify', 'demo', 'won', 'lost']);
    // A deal cannot go to the removed stage any more.
    const gone = await deals('POST', `/v1/deals/${ids[0]}/stage`, { body: { stageId: 'propose' } });
    expect(gone.status).toBe(400);
    expect(fieldsOf(gone)).toEqual(['body.stageId']);
  });
});

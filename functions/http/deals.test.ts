import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
type Client = ReturnType<typeof apiClient>;
type As = (tenantId: string, roles?: string[], userId?: string) => Client;
let dealsAs: As;
let catalogAs: As;
let contactsAs: As;
let companiesAs: As;
let moveLinks: typeof import('../../shared/deals/service.ts').moveLinks;
let runAsTenant: typeof import('../../shared/db/tenant-context.ts').runAsTenant;
let planDealCreate: typeof import('../../shared/deals/service.ts').planDealCreate;
let writeRecords: typeof import('../../shared/db/store.ts').writeRecords;

beforeAll(async () => {
  await useFreshTable();
  const client =
    (handler: Parameters<typeof apiClient>[0]): As =>
    (tenantId, roles = ['admin'], userId = 'alice') =>
      apiClient(handler, { tenantId, roles, userId });
  dealsAs = client((await import('./deals.ts')).handler);
  catalogAs = client((await import('./catalog.ts')).handler);
  contactsAs = client((await import('./contacts.ts')).handler);
  companiesAs = client((await import('./companies.ts')).handler);
  ({ moveLinks, planDealCreate } = await import('../../shared/deals/service.ts'));
  ({ writeRecords } = await import('../../shared/db/store.ts'));
  ({ runAsTenant } = await import('../../shared/db/tenant-context.ts'));
});

const STAGES = [
  { id: 'qualify', name: 'Qualify', probability: 20 },
  { id: 'propose', name: 'Propose', probability: 60 },
  { id: 'won', name: 'Won', kind: 'won' },
  { id: 'lost', name: 'Lost', kind: 'lost' },
];

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((d) => d.id);

/** A tenant with a default pipeline, a company, two contacts and a product. */
async function setUp(prefix = 'deal') {
  const t = uniqueTenant(prefix);
  const pipeline = await catalogAs(t)('POST', '/v1/pipelines', { body: { name: 'Sales', stages: STAGES } });
  const company = await companiesAs(t)('POST', '/v1/companies', { body: makeCompany() });
  const ada = await contactsAs(t)('POST', '/v1/contacts', { body: makeContact() });
  const bob = await contactsAs(t)('POST', '/v1/contacts', { body: makeContact({ firstName: 'Bob' }) });
  const product = await catalogAs(t)('POST', '/v1/products', {
    body: { sku: 'SEAT', name: 'Seat licence', prices: { EUR: 1999, JPY: 2500 } },
  });
  for (const res of [pipeline, company, ada, bob, product]) expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    t,
    api: dealsAs(t),
    pipelineId: pipeline.body.id as string,
    companyId: company.body.id as string,
    contactIds: [ada.body.id, bob.body.id] as string[],
    productId: product.body.id as string,
  };
}

describe('deals: create and amounts', () => {
  it('creates a deal in the default pipeline and first stage, owned by the caller, with its first stage entry', async () => {
    const { api, pipelineId } = await setUp();
    const res = await api('POST', '/v1/deals', { body: { name: 'Big one', currency: 'EUR', amount: 150000 } });
    expect(res.status).toBe(201);
    expect(res.headers.etag).toBe('"1"');
    expect(res.body).toMatchObject({
      name: 'Big one',
      amount: 150000,
      amountDecimal: '1500.00',
      currency: 'EUR',
      pipelineId,
      stageId: 'qualify',
      status: 'open',
      probability: 20,
      ownerId: 'alice',
      contactIds: [],
      lineItems: [],
    });
    expect(res.body.stageEnteredAt).toBe(res.body.createdAt);
    const history = await api('GET', `/v1/deals/${res.body.id}/stages`);
    expect(history.body.items).toEqual([
      expect.objectContaining({ toStageId: 'qualify', toStageName: 'Qualify', status: 'open', changedBy: 'alice' }),
    ]);
    expect(history.body.items[0].fromStageId).toBeUndefined();
    expect((await api('GET', `/v1/deals/${res.body.id}`)).body).toEqual(res.body);
  });

  it('computes the amount exactly from line items: product prices, percent (half-even) and amount discounts', async () => {
    const { api, productId } = await setUp();
    const res = await api('POST', '/v1/deals', {
      body: {
        name: 'Seats',
        currency: 'EUR',
        lineItems: [
          { productId, quantity: 10, discount: { percentBasisPoints: 1250 } }, // 19990 - 2498.75 -> 2499 (odd) ... see below
          { name: 'Onboarding', quantity: 1, unitPrice: 1005, discount: { percentBasisPoints: 1000 } }, // 100.5 -> 100
          { name: 'Support', quantity: 3, unitPrice: 500, discount: { amount: 250 } },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const lines = res.body.lineItems;
    expect(lines[0]).toMatchObject({
      productId,
      sku: 'SEAT',
      name: 'Seat licence',
      quantity: 10,
      unitPrice: 1999,
      discountAmount: 2499, // 2498.75 rounds to 2499
      lineTotal: 17491,
    });
    expect(lines[1]).toMatchObject({ discountAmount: 100, lineTotal: 905 });
    expect(lines[2]).toMatchObject({ discountAmount: 250, lineTotal: 1250 });
    expect(res.body.amount).toBe(17491 + 905 + 1250);
    expect(res.body.amountDecimal).toBe('196.46');
  });

  it('respects each currency: JPY prices have no minor unit', async () => {
    const { api, productId } = await setUp();
    const res = await api('POST', '/v1/deals', {
      body: { name: 'Yen', currency: 'JPY', lineItems: [{ productId, quantity: 3 }] },
    });
    expect(res.body).toMatchObject({ amount: 7500, amountDecimal: '7500', currency: 'JPY' });
  });

  it('refuses bad amounts and line items with field errors, never a 5xx', async () => {
    const { api, productId } = await setUp();
    const cases: Array<[unknown, string[]]> = [
      [{ name: 'x', currency: 'EUR', amount: 10.5 }, ['body.amount']],
      [{ name: 'x', currency: 'eur' }, ['body.currency']],
      [{ name: 'x', currency: 'USD', lineItems: [{ productId, quantity: 1 }] }, ['body.lineItems.0.unitPrice']],
      [{ name: 'x', currency: 'EUR', lineItems: [{ productId: 'nope', quantity: 1 }] }, ['body.lineItems.0.productId']],
      [{ name: 'x', currency: 'EUR', lineItems: [{ quantity: 1, unitPrice: 5 }] }, ['body.lineItems.0.name']],
      [
        { name: 'x', currency: 'EUR', lineItems: [{ name: 'a', quantity: 1, unitPrice: 5, discount: { amount: 6 } }] },
        ['body.lineItems.0.discount'],
      ],
      [
        { name: 'x', currency: 'EUR', amount: 1, lineItems: [{ name: 'a', quantity: 1, unitPrice: 5 }] },
        ['body.amount'],
      ],
      [
        {
          name: 'x',
          currency: 'EUR',
          lineItems: [{ name: 'a', quantity: 1_000_000, unitPrice: 9_007_199_254_740_991 }],
        },
        ['body.lineItems.0.discount'],
      ],
      [{ name: 'x', currency: 'EUR', stageId: 'lost' }, ['body.lostReason']],
      [{ name: 'x', currency: 'EUR', stageId: 'nowhere' }, ['body.stageId']],
      [{ name: 'x', currency: 'EUR', pipelineId: 'nope' }, ['body.pipelineId']],
      [{ name: 'x', currency: 'EUR', companyId: 'nope' }, ['body.companyId']],
      [{ name: 'x', currency: 'EUR', contactIds: ['nope'] }, ['body.contactIds']],
      [{ name: 'x', currency: 'EUR', contactIds: Array.from({ length: 21 }, (_, i) => `c${i}`) }, ['body.contactIds']],
    ];
    for (const [body, fields] of cases) {
      const res = await api('POST', '/v1/deals', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(fieldsOf(res), JSON.stringify(body)).toEqual(fields);
    }
    expect(idsOf(await api('GET', '/v1/deals'))).toEqual([]);
  });

  it('says to create a pipeline first when the tenant has none', async () => {
    const res = await dealsAs(uniqueTenant('nopipe'))('POST', '/v1/deals', { body: { name: 'x', currency: 'EUR' } });
    expect(res.status).toBe(400);
    expect(res.body.fieldErrors[0].message).toContain('Create a pipeline first');
  });

  it('replays a create with the same Idempotency-Key (one deal) and refuses the key for another body', async () => {
    const { api } = await setUp();
    const body = { name: 'Once', currency: 'EUR', amount: 5 };
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => api('POST', '/v1/deals', { body, headers: { 'idempotency-key': 'deal-1' } })),
    );
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    expect(racing.every((r) => r.status === 201)).toBe(true);
    expect(idsOf(await api('GET', '/v1/deals'))).toHaveLength(1);
    const reused = await api('POST', '/v1/deals', {
      body: { ...body, name: 'Twice' },
      headers: { 'idempotency-key': 'deal-1' },
    });
    expect(reused.status).toBe(422);
  });
});

describe('deals: stages, history and events-to-be', () => {
  it('moves a deal through stages with history (from, to, time in stage), and needs a reason to lose it', async () => {
    const { api } = await setUp();
    const deal = await api('POST', '/v1/deals', { body: { name: 'Mover', currency: 'EUR', amount: 100 } });
    const id = deal.body.id;
    const proposed = await api('POST', `/v1/deals/${id}/stage`, { body: { stageId: 'propose' } });
    expect(proposed.status).toBe(200);
    expect(proposed.body).toMatchObject({ stageId: 'propose', probability: 60, status: 'open', version: 2 });
    const same = await api('POST', `/v1/deals/${id}/stage`, { body: { stageId: 'propose' } });
    expect(same.body.version).toBe(2);

    const noReason = await api('POST', `/v1/deals/${id}/stage`, { body: { stageId: 'lost' } });
    expect(noReason.status).toBe(400);
    expect(fieldsOf(noReason)).toEqual(['body.lostReason']);
    const stale = await api('POST', `/v1/deals/${id}/stage`, {
      body: { stageId: 'won' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);

    const lost = await api('POST', `/v1/deals/${id}/stage`, {
      body: { stageId: 'lost', lostReason: 'Budget cut' },
      headers: { 'if-match': '"2"' },
    });
    expect(lost.body).toMatchObject({ status: 'lost', probability: 0, lostReason: 'Budget cut' });
    expect(lost.body.closedAt).toBe(lost.body.stageEnteredAt);
    const reopened = await api('POST', `/v1/deals/${id}/stage`, { body: { stageId: 'qualify' } });
    expect(reopened.body.lostReason).toBeUndefined();
    expect(reopened.body.closedAt).toBeUndefined();

    const history = await api('GET', `/v1/deals/${id}/stages?limit=2`);
    expect(history.body.items.map((h: { toStageId: string }) => h.toStageId)).toEqual(['qualify', 'propose']);
    const rest = await api('GET', `/v1/deals/${id}/stages?cursor=${history.body.nextCursor}`);
    expect(rest.body.items).toEqual([
      expect.objectContaining({
        fromStageId: 'propose',
        fromStageName: 'Propose',
        toStageId: 'lost',
        lostReason: 'Budget cut',
      }),
      expect.objectContaining({ fromStageId: 'lost', toStageId: 'qualify' }),
    ]);
    for (const entry of [...history.body.items.slice(1), ...rest.body.items]) {
      expect(entry.msInPreviousStage).toBeGreaterThanOrEqual(0);
    }
    // The stage changes are on the deal's own timeline, newest first.
    const timeline = await api('GET', `/v1/deals/${id}/timeline`);
    expect(timeline.body.items.map((e: { type: string }) => e.type)).toEqual(Array(4).fill('dealStageChange'));
    expect(timeline.body.items[0].data.toStageId).toBe('qualify');

    const otherCursor = await api(
      'GET',
      `/v1/deals/${deal.body.id}/stages?cursor=${timeline.body.nextCursor ?? 'eyJ4IjoxfQ'}`,
    );
    expect(otherCursor.status).toBe(400);
  });

  it('moves a deal into another pipeline', async () => {
    const { t, api } = await setUp();
    const other = await catalogAs(t)('POST', '/v1/pipelines', {
      body: {
        name: 'Renewals',
        stages: [
          { id: 'r1', name: 'Renew' },
          { id: 'rw', name: 'Renewed', kind: 'won' },
          { id: 'rl', name: 'Churned', kind: 'lost' },
        ],
      },
    });
    const deal = await api('POST', '/v1/deals', { body: { name: 'Jump', currency: 'EUR', amount: 1 } });
    const moved = await api('POST', `/v1/deals/${deal.body.id}/stage`, {
      body: { pipelineId: other.body.id, stageId: 'r1' },
    });
    expect(moved.body).toMatchObject({ pipelineId: other.body.id, stageId: 'r1', probability: 10 });
    const wrong = await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'qualify' } });
    expect(wrong.status).toBe(400);
  });

  it('moves against the pipeline as stored now, right after its stages changed (no stale copy decides)', async () => {
    const { t, api, pipelineId } = await setUp();
    const deal = await api('POST', '/v1/deals', { body: { name: 'Fresh', currency: 'EUR', amount: 1 } });
    // Moving once makes the function hold the pipeline as it was.
    expect((await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'propose' } })).status).toBe(200);
    const withDemo = [...STAGES.slice(0, 2), { id: 'demo', name: 'Demo', probability: 80 }, ...STAGES.slice(2)];
    const added = await catalogAs(t)('PATCH', `/v1/pipelines/${pipelineId}`, { body: { stages: withDemo } });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const toDemo = await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'demo' } });
    expect(toDemo.body).toMatchObject({ stageId: 'demo', probability: 80 });
    // A stage renamed meanwhile: the stage history names it as it is now.
    const renamed = withDemo.map((s) => (s.id === 'qualify' ? { ...s, name: 'Discovery' } : s));
    expect((await catalogAs(t)('PATCH', `/v1/pipelines/${pipelineId}`, { body: { stages: renamed } })).status).toBe(
      200,
    );
    await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'qualify' } });
    const history = await api('GET', `/v1/deals/${deal.body.id}/stages`);
    expect(history.body.items.at(-1)).toMatchObject({ toStageId: 'qualify', toStageName: 'Discovery' });
  });
});

describe('deals: board, lists, purchases, timelines', () => {
  it('shows each stage with its first deals by expected close date, and pages one stage', async () => {
    const { api, pipelineId } = await setUp();
    const make = (name: string, expectedCloseDate?: string, stageId = 'qualify') =>
      api('POST', '/v1/deals', {
        body: { name, currency: 'EUR', amount: 1, stageId, ...(expectedCloseDate ? { expectedCloseDate } : {}) },
      });
    const late = await make('Late', '2027-03-01');
    const undated = await make('Undated');
    const soon = await make('Soon', '2027-01-15');
    const won = await make('Done', '2026-12-01', 'won');
    const board = await api('GET', `/v1/pipelines/${pipelineId}/board?limit=2`);
    expect(board.status).toBe(200);
    expect(board.body.stages.map((s: { stage: { id: string } }) => s.stage.id)).toEqual([
      'qualify',
      'propose',
      'won',
      'lost',
    ]);
    const qualify = board.body.stages[0];
    expect(qualify.deals.map((d: { id: string }) => d.id)).toEqual([soon.body.id, late.body.id]);
    expect(qualify.nextCursor).toBeTruthy();
    expect(board.body.stages[2].deals.map((d: { id: string }) => d.id)).toEqual([won.body.id]);
    expect(board.body.stages[2].nextCursor).toBeNull();
    const next = await api(
      'GET',
      `/v1/pipelines/${pipelineId}/stages/qualify/deals?limit=2&cursor=${qualify.nextCursor}`,
    );
    expect(idsOf(next)).toEqual([undated.body.id]);
    // A stage's cursor does not page another stage.
    const forged = await api('GET', `/v1/pipelines/${pipelineId}/stages/propose/deals?cursor=${qualify.nextCursor}`);
    expect(forged.status).toBe(400);
    expect((await api('GET', '/v1/pipelines/nope/board')).status).toBe(404);
  });

  it('lists deals by name, owner, company, contact, updatedSince and the trash', async () => {
    const { api, companyId, contactIds } = await setUp();
    const a = await api('POST', '/v1/deals', {
      body: { name: 'Alpha', currency: 'EUR', amount: 1, companyId, contactIds: [contactIds[0]] },
    });
    const b = await api('POST', '/v1/deals', {
      body: { name: 'Beta', currency: 'EUR', amount: 2, ownerId: 'bob', contactIds },
    });
    expect(idsOf(await api('GET', '/v1/deals'))).toEqual([a.body.id, b.body.id]);
    expect(idsOf(await api('GET', '/v1/deals?q=bet'))).toEqual([b.body.id]);
    expect(idsOf(await api('GET', '/v1/deals?ownerId=bob'))).toEqual([b.body.id]);
    expect(idsOf(await api('GET', `/v1/deals?companyId=${companyId}`))).toEqual([a.body.id]);
    const ofAda = await api('GET', `/v1/deals?contactId=${contactIds[0]}`);
    expect(idsOf(ofAda).sort()).toEqual([a.body.id, b.body.id].sort());
    expect(ofAda.body.items[0]).toMatchObject({ currency: 'EUR', status: 'open' });
    expect(idsOf(await api('GET', `/v1/deals?contactId=${contactIds[1]}`))).toEqual([b.body.id]);
    expect(idsOf(await api('GET', '/v1/deals?updatedSince=2020-01-01T00:00:00Z'))).toHaveLength(2);
    const both = await api('GET', `/v1/deals?ownerId=bob&companyId=${companyId}`);
    expect(both.status).toBe(400);

    expect((await api('DELETE', `/v1/deals/${b.body.id}`, { headers: { 'if-match': '"2"' } })).status).toBe(412);
    expect((await api('DELETE', `/v1/deals/${b.body.id}`, { headers: { 'if-match': '"1"' } })).status).toBe(204);
    expect((await api('GET', `/v1/deals/${b.body.id}`)).status).toBe(404);
    expect(idsOf(await api('GET', '/v1/deals?inTrash=true'))).toEqual([b.body.id]);
    expect(idsOf(await api('GET', `/v1/deals?contactId=${contactIds[1]}`))).toEqual([]);
    expect(idsOf(await api('GET', '/v1/deals?ownerId=bob'))).toEqual([]);
    const restored = await api('POST', `/v1/deals/${b.body.id}/restore`);
    expect(restored.status).toBe(200);
    expect(idsOf(await api('GET', `/v1/deals?contactId=${contactIds[1]}`))).toEqual([b.body.id]);
    expect((await api('POST', `/v1/deals/${b.body.id}/restore`)).status).toBe(409);
  });

  it("shows deals on their contacts' and company's timelines, and keeps the links in step", async () => {
    const { t, api, companyId, contactIds } = await setUp();
    const deal = await api('POST', '/v1/deals', {
      body: { name: 'Linked', currency: 'EUR', amount: 42, companyId, contactIds: [contactIds[0]] },
    });
    const timelineOf = async (path: string) =>
      (await (path.startsWith('/v1/contacts') ? contactsAs(t) : companiesAs(t))('GET', path)).body.items.filter(
        (e: { type: string }) => e.type === 'deal',
      );
    expect(await timelineOf(`/v1/contacts/${contactIds[0]}/timeline`)).toEqual([
      expect.objectContaining({ id: deal.body.id, data: expect.objectContaining({ name: 'Linked', amount: 42 }) }),
    ]);
    expect(await timelineOf(`/v1/companies/${companyId}/timeline`)).toHaveLength(1);
    await api('PATCH', `/v1/deals/${deal.body.id}`, { body: { contactIds: [contactIds[1]], companyId: null } });
    expect(await timelineOf(`/v1/contacts/${contactIds[0]}/timeline`)).toEqual([]);
    expect(await timelineOf(`/v1/contacts/${contactIds[1]}/timeline`)).toHaveLength(1);
    expect(await timelineOf(`/v1/companies/${companyId}/timeline`)).toEqual([]);
    await api('DELETE', `/v1/deals/${deal.body.id}`);
    expect(await timelineOf(`/v1/contacts/${contactIds[1]}/timeline`)).toEqual([]);
  });

  it("records won deals' line items as the company's and contacts' purchase history", async () => {
    const { api, companyId, contactIds, productId } = await setUp();
    const deal = await api('POST', '/v1/deals', {
      body: { name: 'Seats', currency: 'EUR', companyId, contactIds, lineItems: [{ productId, quantity: 2 }] },
    });
    expect((await api('GET', `/v1/companies/${companyId}/purchases`)).body.items).toEqual([]);
    const won = await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'won' } });
    expect(won.body.status).toBe('won');
    const expected = {
      dealId: deal.body.id,
      dealName: 'Seats',
      currency: 'EUR',
      amount: 3998,
      closedAt: won.body.closedAt,
      companyId,
      lineItems: [expect.objectContaining({ productId, sku: 'SEAT', quantity: 2, lineTotal: 3998 })],
    };
    expect((await api('GET', `/v1/companies/${companyId}/purchases`)).body.items).toEqual([expected]);
    for (const contactId of contactIds) {
      expect((await api('GET', `/v1/contacts/${contactId}/purchases`)).body.items).toEqual([expected]);
    }
    // Re-opened, it is no longer a purchase.
    await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'propose' } });
    expect((await api('GET', `/v1/companies/${companyId}/purchases`)).body.items).toEqual([]);
    expect((await api('GET', `/v1/contacts/${contactIds[0]}/purchases`)).body.items).toEqual([]);
  });
});

describe('deals: patch', () => {
  it('patches fields with If-Match, recomputes amounts from new line items and refuses a currency change that would leave them stale', async () => {
    const { api, productId } = await setUp();
    const deal = await api('POST', '/v1/deals', {
      body: { name: 'Patch me', currency: 'EUR', lineItems: [{ productId, quantity: 1 }] },
    });
    const id = deal.body.id;
    const stale = await api('PATCH', `/v1/deals/${id}`, { body: { name: 'x' }, headers: { 'if-match': '"9"' } });
    expect(stale.status).toBe(412);
    const noop = await api('PATCH', `/v1/deals/${id}`, { body: { name: 'Patch me' } });
    expect(noop.body.version).toBe(1);
    const currency = await api('PATCH', `/v1/deals/${id}`, { body: { currency: 'JPY' } });
    expect(currency.status).toBe(400);
    expect(fieldsOf(currency)).toEqual(['body.lineItems']);
    const repriced = await api('PATCH', `/v1/deals/${id}`, {
      body: { currency: 'JPY', lineItems: [{ productId, quantity: 4 }], expectedCloseDate: '2027-02-01' },
      headers: { 'if-match': '"1"' },
    });
    expect(repriced.body).toMatchObject({
      currency: 'JPY',
      amount: 10000,
      version: 2,
      expectedCloseDate: '2027-02-01',
    });
    const cleared = await api('PATCH', `/v1/deals/${id}`, { body: { lineItems: null, amount: 77 } });
    expect(cleared.body).toMatchObject({ lineItems: [], amount: 77 });
    const stageViaPatch = await api('PATCH', `/v1/deals/${id}`, { body: { stageId: 'won' } });
    expect(stageViaPatch.status).toBe(400);
  });

  it('lets readonly users read deals but not write them, and sales write but not delete', async () => {
    const { t } = await setUp();
    const deal = await dealsAs(t, ['sales'])('POST', '/v1/deals', { body: { name: 'S', currency: 'EUR' } });
    expect(deal.status).toBe(201);
    expect((await dealsAs(t, ['readonly'])('GET', `/v1/deals/${deal.body.id}`)).status).toBe(200);
    expect((await dealsAs(t, ['readonly'])('POST', '/v1/deals', { body: { name: 'R', currency: 'EUR' } })).status).toBe(
      403,
    );
    expect((await dealsAs(t, ['sales'])('DELETE', `/v1/deals/${deal.body.id}`)).status).toBe(403);
  });

  it('keeps tenants apart: ids of another tenant are not found, its pipelines not usable', async () => {
    const a = await setUp('iso');
    const b = await setUp('iso');
    const deal = await a.api('POST', '/v1/deals', { body: { name: 'Mine', currency: 'EUR' } });
    expect((await b.api('GET', `/v1/deals/${deal.body.id}`)).status).toBe(404);
    expect((await b.api('PATCH', `/v1/deals/${deal.body.id}`, { body: { name: 'x' } })).status).toBe(404);
    expect((await b.api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'won' } })).status).toBe(404);
    const board = await b.api('GET', `/v1/pipelines/${a.pipelineId}/board`);
    expect(board.status).toBe(404);
    const cross = await b.api('POST', '/v1/deals', {
      body: { name: 'x', currency: 'EUR', pipelineId: a.pipelineId, companyId: a.companyId },
    });
    expect(cross.status).toBe(400);
    const withA = await b.api('POST', '/v1/deals', { body: { name: 'x', currency: 'EUR', companyId: a.companyId } });
    expect(fieldsOf(withA)).toEqual(['body.companyId']);
  });
});

describe('moveLinks (for merges)', () => {
  it('re-points every deal of a contact or company onto another, with lookups and timeline links, idempotently', async () => {
    const { t, api, companyId, contactIds } = await setUp();
    const winner = await contactsAs(t)('POST', '/v1/contacts', { body: makeContact({ firstName: 'Winner' }) });
    const otherCompany = await companiesAs(t)('POST', '/v1/companies', { body: makeCompany() });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const deal = await api('POST', '/v1/deals', {
        body: { name: `M${i}`, currency: 'EUR', companyId, contactIds: i === 0 ? contactIds : [contactIds[0]!] },
      });
      ids.push(deal.body.id);
    }
    const moved = await runAsTenant(t, () =>
      moveLinks(t, { type: 'contact', id: contactIds[0]! }, { type: 'contact', id: winner.body.id }),
    );
    expect(moved).toBe(3);
    expect(
      await runAsTenant(t, () =>
        moveLinks(t, { type: 'contact', id: contactIds[0]! }, { type: 'contact', id: winner.body.id }),
      ),
    ).toBe(0);
    expect(idsOf(await api('GET', `/v1/deals?contactId=${contactIds[0]}`))).toEqual([]);
    expect(idsOf(await api('GET', `/v1/deals?contactId=${winner.body.id}`)).sort()).toEqual([...ids].sort());
    expect((await api('GET', `/v1/deals/${ids[0]}`)).body.contactIds).toEqual([winner.body.id, contactIds[1]]);
    const winnerTimeline = await contactsAs(t)('GET', `/v1/contacts/${winner.body.id}/timeline`);
    expect(winnerTimeline.body.items.filter((e: { type: string }) => e.type === 'deal')).toHaveLength(3);

    const companies = await runAsTenant(t, () =>
      moveLinks(t, { type: 'company', id: companyId }, { type: 'company', id: otherCompany.body.id }),
    );
    expect(companies).toBe(3);
    expect(idsOf(await api('GET', `/v1/deals?companyId=${otherCompany.body.id}`))).toHaveLength(3);
    expect(idsOf(await api('GET', `/v1/deals?companyId=${companyId}`))).toEqual([]);
  });
});

describe('deals: transactions', () => {
  it('writes a deal with the most contacts straight into a won stage in one transaction, and moves it back', async () => {
    const { t, api, companyId, productId } = await setUp();
    const contacts = await Promise.all(
      Array.from({ length: 20 }, () => contactsAs(t)('POST', '/v1/contacts', { body: makeContact() })),
    );
    const contactIds = contacts.map((c) => c.body.id as string);
    const deal = await api('POST', '/v1/deals', {
      body: {
        name: 'Crowded',
        currency: 'EUR',
        stageId: 'won',
        companyId,
        contactIds,
        lineItems: Array.from({ length: 10 }, (_, i) => ({ productId, quantity: i + 1 })),
      },
      headers: { 'idempotency-key': 'crowded' },
    });
    expect(deal.status, JSON.stringify(deal.body)).toBe(201);
    expect(deal.body.amount).toBe(1999 * ((10 * 11) / 2));
    expect((await api('GET', `/v1/contacts/${contactIds[19]}/purchases`)).body.items).toHaveLength(1);
    const reopened = await api('POST', `/v1/deals/${deal.body.id}/stage`, { body: { stageId: 'qualify' } });
    expect(reopened.status).toBe(200);
    expect((await api('GET', `/v1/contacts/${contactIds[19]}/purchases`)).body.items).toEqual([]);
  });

  it('a planned create (planDealCreate) fails as a whole if the pipeline changed before it was written', async () => {
    const { t, pipelineId } = await setUp();
    const principal = { tenantId: t, userId: 'alice', roles: ['admin' as const] };
    const planned = await runAsTenant(t, () =>
      planDealCreate(principal, { name: 'Planned', currency: 'EUR', stageId: 'propose' }),
    );
    expect(planned.view).toMatchObject({ name: 'Planned', stageId: 'propose', version: 1 });
    expect(planned.items.map((i) => ('put' in i ? i.put : 'check' in i ? i.check : i.delete))).toEqual([
      'pipeline',
      'dealStageChange',
    ]);
    const renamed = await catalogAs(t)('PATCH', `/v1/pipelines/${pipelineId}`, { body: { name: 'Renamed' } });
    expect(renamed.status).toBe(200);
    await expect(runAsTenant(t, () => writeRecords([planned.write], planned.items))).rejects.toMatchObject({
      status: 409,
      code: 'pipeline.changed',
    });
    expect(idsOf(await dealsAs(t)('GET', '/v1/deals'))).toEqual([]);
    // Planned again against the current pipeline, it goes through.
    const again = await runAsTenant(t, () => planDealCreate(principal, { name: 'Planned', currency: 'EUR' }));
    await runAsTenant(t, () => writeRecords([again.write], again.items));
    expect(idsOf(await dealsAs(t)('GET', '/v1/deals'))).toEqual([again.view.id]);
  });

  it('of concurrent moves of one deal exactly one wins; the others are told it changed', async () => {
    const { api } = await setUp();
    const deal = await api('POST', '/v1/deals', { body: { name: 'Contested', currency: 'EUR' } });
    const moves = await Promise.all(
      ['propose', 'won', 'qualify', 'propose', 'won'].map((stageId, i) =>
        api('POST', `/v1/deals/${deal.body.id}/stage`, {
          body: i === 2 ? { stageId: 'lost', lostReason: 'x' } : { stageId },
          headers: { 'if-match': '"1"' },
        }),
      ),
    );
    expect(moves.filter((m) => m.status === 200)).toHaveLength(1);
    expect(moves.filter((m) => m.status === 412 || m.status === 409)).toHaveLength(4);
    const history = await api('GET', `/v1/deals/${deal.body.id}/stages`);
    expect(history.body.items).toHaveLength(2);
  });
});

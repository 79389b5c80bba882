import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeCompany, makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Deals over real HTTP in the local cloud (API Gateway emulation, JWT authorizer, the catalog and deals Lambda
 * functions, DynamoDB Local), and their events through the stream publisher onto the bus.
 */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['admin'], userId: 'alice' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

type BusEvent = { 'detail-type': string; source: string; detail: Record<string, unknown> };
const eventOf = (type: string, dealId: string) =>
  eventually(async () =>
    // Record-change events name the deal as entityId, the derived stage events as dealId.
    (cloud.events.recentEvents() as BusEvent[]).find(
      (e) => e['detail-type'] === type && (e.detail.dealId ?? e.detail.entityId) === dealId,
    ),
  );

describe('a deal from the catalogue to won, over HTTP', () => {
  it('prices line items from a product, moves to won, shows on the board and in the purchase history, and publishes deal.won', {
    timeout: 120_000,
  }, async () => {
    const product = await admin('POST', '/v1/products', { sku: 'seat', name: 'Seat', prices: { EUR: 1999 } });
    expect(product.status).toBe(201);
    const pipeline = await admin('POST', '/v1/pipelines', {
      name: 'Sales',
      stages: [
        { id: 'qualify', name: 'Qualify', probability: 20 },
        { id: 'won', name: 'Won', kind: 'won' },
        { id: 'lost', name: 'Lost', kind: 'lost' },
      ],
    });
    expect(pipeline.status).toBe(201);
    const company = await admin('POST', '/v1/companies', makeCompany());
    const contact = await admin('POST', '/v1/contacts', makeContact({ companyId: company.body.id }));
    const deal = await admin(
      'POST',
      '/v1/deals',
      {
        name: 'Seats for Analytical Engines',
        currency: 'EUR',
        companyId: company.body.id,
        contactIds: [contact.body.id],
        lineItems: [{ productId: product.body.id, quantity: 3, discount: { percentBasisPoints: 1000 } }],
      },
      { 'idempotency-key': 'whole-stack-deal-1' },
    );
    expect(deal.status).toBe(201);
    expect(deal.body).toMatchObject({ amount: 5397, amountDecimal: '53.97', stageId: 'qualify' });
    const dealId = deal.body.id as string;

    const board = await admin('GET', `/v1/pipelines/${pipeline.body.id}/board`);
    expect(board.body.stages[0].deals.map((d: { id: string }) => d.id)).toEqual([dealId]);

    const won = await admin('POST', `/v1/deals/${dealId}/stage`, { stageId: 'won' }, { 'if-match': '"1"' });
    expect(won.status).toBe(200);
    expect(won.body).toMatchObject({ status: 'won', probability: 100, version: 2 });

    const event = await eventOf('deal.won', dealId);
    expect(event.source).toBe('crm.deals');
    expect(event.detail).toMatchObject({
      tenantId: 'acme',
      fromStageId: 'qualify',
      toStageId: 'won',
      amount: 5397,
      currency: 'EUR',
      companyId: company.body.id,
      contactIds: [contact.body.id],
      actorId: 'alice',
    });
    expect((await eventOf('deal.stage_changed', dealId)).detail.version).toBeDefined();
    expect((await eventOf('deal.created', dealId)).detail).toMatchObject({ entity: 'deal', entityId: dealId });

    const history = await admin('GET', `/v1/deals/${dealId}/stages`);
    expect(history.body.items.map((h: { toStageId: string }) => h.toStageId)).toEqual(['qualify', 'won']);
    const purchases = await admin('GET', `/v1/companies/${company.body.id}/purchases`);
    expect(purchases.body.items).toEqual([
      expect.objectContaining({
        dealId,
        amount: 5397,
        lineItems: [expect.objectContaining({ sku: 'SEAT', quantity: 3 })],
      }),
    ]);
    const ofContact = await admin('GET', `/v1/contacts/${contact.body.id}/purchases`);
    expect(ofContact.body.items.map((p: { dealId: string }) => p.dealId)).toEqual([dealId]);
    const timeline = await admin('GET', `/v1/contacts/${contact.body.id}/timeline`);
    expect(timeline.body.items.find((e: { type: string }) => e.type === 'deal')).toMatchObject({
      id: dealId,
      data: { status: 'won', amount: 5397 },
    });
  });

  it('refuses another tenant and a role without deals:write at the API', async () => {
    const other = api(cloud, await cloud.token({ tenantId: 'globex', roles: ['admin'] }));
    expect((await other('GET', '/v1/deals')).body.items).toEqual([]);
    const readonly = api(cloud, await cloud.token({ tenantId: 'acme', roles: ['readonly'] }));
    expect((await readonly('POST', '/v1/deals', { name: 'x', currency: 'EUR' })).status).toBe(403);
    expect((await readonly('GET', '/v1/deals')).status).toBe(200);
  });
});

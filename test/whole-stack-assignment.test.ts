import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureAssignmentFairness } from '../bench/assignment.ts';
import { type Doc, docClient } from '../bench/common.ts';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeCompany, makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Assignment and geolocation across the stack, over real HTTP: rules and round robin through API Gateway and the
 * Lambda workers; open loads kept by the assignment-load consumer (DynamoDB stream -> publisher -> EventBridge rule
 * -> Lambda); near-search on the geohash index of the table the template declares.
 */
let cloud: LocalCloud;
let doc: Doc;

beforeAll(async () => {
  cloud = await startTestCloud();
  doc = docClient(cloud.dynamo.endpoint, cloud.resolver.region);
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  doc?.destroy();
  await cloud?.stop();
});

async function loadOf(tenantId: string, userId: string): Promise<number> {
  const { createModel } = await import('../shared/db/model.ts');
  const model = createModel({ table: cloud.tableName, client: doc });
  const { data } = await model.entities.assignmentCounter.get({ tenantId, counterId: `load#${userId}` }).go();
  return data?.value ?? 0;
}

describe('assignment over HTTP', () => {
  it('spreads concurrent creates exactly evenly (the bench module, at a test size)', async () => {
    const tenantId = 'fair';
    const token = await cloud.token({ tenantId, roles: ['admin'], userId: 'admin' });
    const result = await measureAssignmentFairness({
      apiUrl: cloud.apiUrl,
      token,
      tenantId,
      table: { client: doc, tableName: cloud.tableName },
      members: 4,
      creates: 20,
    });
    expect(result, JSON.stringify(result)).toMatchObject({ assigned: 20, failed: 0, fairness: 0, storedFairness: 0 });
    expect(Object.values(result.perMember)).toEqual([5, 5, 5, 5]);
  }, 300_000);

  it("keeps each owner's open load in step through the event consumer: reassigned and deleted records leave it", async () => {
    const tenantId = 'loads';
    const admin = api(cloud, await cloud.token({ tenantId, roles: ['admin'], userId: 'admin' }));
    const { createModel } = await import('../shared/db/model.ts');
    const now = new Date().toISOString();
    await createModel({ table: cloud.tableName, client: doc })
      .entities.team.put({
        tenantId,
        teamId: 'solo',
        name: 'Solo',
        sortName: 'solo',
        members: [{ userId: 'rep-1', availability: 'available', capacity: 2 }],
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
    const rules = [{ id: 'solo', entities: ['contact'], teamId: 'solo', method: 'leastLoaded' }];
    expect((await admin('PUT', '/v1/assignment-rules', { rules })).status).toBe(200);
    const first = await admin('POST', '/v1/contacts', makeContact());
    const second = await admin('POST', '/v1/contacts', makeContact());
    expect([first.status, second.status], JSON.stringify([first.body, second.body])).toEqual([201, 201]);
    expect([first.body.ownerId, second.body.ownerId]).toEqual(['rep-1', 'rep-1']);
    expect(first.body.assignedByRule).toBe('solo');
    // At capacity: the next one stays unowned.
    expect((await admin('POST', '/v1/contacts', makeContact())).body.ownerId).toBeUndefined();
    expect(await loadOf(tenantId, 'rep-1')).toBe(2);
    // A deletion and a reassignment reach the consumer through the stream and the bus.
    expect((await admin('DELETE', `/v1/contacts/${first.body.id}`)).status).toBe(204);
    const moved = await admin('PATCH', `/v1/contacts/${second.body.id}`, { ownerId: 'rep-2' });
    expect(moved.status).toBe(200);
    await eventually(async () => ((await loadOf(tenantId, 'rep-1')) === 0 ? true : undefined), 120_000);
    await eventually(async () => ((await loadOf(tenantId, 'rep-2')) === 1 ? true : undefined), 120_000);
    // rep-1 has room again.
    expect((await admin('POST', '/v1/contacts', makeContact())).body.ownerId).toBe('rep-1');
  }, 300_000);
});

describe('near-search over HTTP', () => {
  it('finds contacts and companies within a radius on the declared geohash index', async () => {
    const admin = api(cloud, await cloud.token({ tenantId: 'geo', roles: ['admin'], userId: 'admin' }));
    const london = await admin('POST', '/v1/contacts', makeContact({ location: { lat: 51.508, lon: -0.128 } }));
    await admin('POST', '/v1/contacts', makeContact({ location: { lat: 48.857, lon: 2.352 } }));
    const company = await admin('POST', '/v1/companies', makeCompany({ location: { lat: 51.5, lon: -0.12 } }));
    const near = await admin('GET', '/v1/contacts?near=51.5,-0.12&radiusKm=25');
    expect(near.status).toBe(200);
    expect(near.body.items.map((c: { id: string }) => c.id)).toEqual([london.body.id]);
    const companies = await admin('GET', '/v1/companies?near=51.5,-0.12&radiusKm=1');
    expect(companies.body.items.map((c: { id: string }) => c.id)).toEqual([company.body.id]);
    const tooFar = await admin('GET', '/v1/contacts?near=51.5,-0.12&radiusKm=501');
    expect(tooFar.status).toBe(400);
    expect(tooFar.headers.get('content-type')).toBe('application/problem+json');
  }, 120_000);
});

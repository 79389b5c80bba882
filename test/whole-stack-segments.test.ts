import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Segments across the whole stack: a segment created over HTTP comes back from the DynamoDB stream as
 * `segment.created`, whose rule starts the backfill state machine (the synthesized definition in the local Step
 * Functions); contact changes reach the membership consumer through the stream and the bus.
 */
const TENANT = 'marketing-co';
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;

beforeAll(async () => {
  cloud = await startTestCloud();
  admin = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['admin'], userId: 'founder' }));
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

async function contact(tags: string[], lifecycleStage = 'lead'): Promise<string> {
  const created = await admin('POST', '/v1/contacts', makeContact({ tags, lifecycleStage }));
  expect(created.status, created.text).toBe(201);
  return created.body.id;
}

/** The segment once its backfill of `evaluation` is done. */
const backfilled = (id: string, evaluation: number) =>
  eventually(async () => {
    const segment = await admin('GET', `/v1/segments/${id}`);
    const b = segment.body.backfill;
    return b?.status === 'done' && b.evaluation === evaluation ? segment.body : undefined;
  }, 120_000);

describe('segments in the local cloud', () => {
  it('backfills a new segment, follows contact changes, and re-evaluates after an edit', async () => {
    const ada = await contact(['vip']);
    const bob = await contact(['vip'], 'customer');
    await contact(['other'], 'customer');
    const created = await admin('POST', '/v1/segments', {
      kind: 'dynamic',
      name: 'VIPs',
      filter: { field: 'tags', op: 'contains', value: 'vip' },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const first = await backfilled(id, 1);
    expect(first).toMatchObject({ memberCount: 2, backfill: { processed: 3, matched: 2 } });

    // A new matching contact joins through the membership consumer; one that stops matching leaves.
    const cyd = await contact(['vip'], 'customer');
    expect((await admin('PATCH', `/v1/contacts/${ada}`, { tags: [] })).status).toBe(200);
    const members = await eventually(async () => {
      const page = await admin('GET', `/v1/segments/${id}/members`);
      const ids = page.body.items.map((m: { contactId: string }) => m.contactId).sort();
      return ids.length === 2 && !ids.includes(ada) ? ids : undefined;
    }, 60_000);
    expect(members).toEqual([bob, cyd].sort());

    const edited = await admin(
      'PATCH',
      `/v1/segments/${id}`,
      {
        filter: {
          all: [
            { field: 'tags', op: 'contains', value: 'vip' },
            { field: 'lifecycleStage', op: 'eq', value: 'lead' },
          ],
        },
      },
      { 'if-match': '"1"' },
    );
    expect(edited.status, edited.text).toBe(200);
    const second = await backfilled(id, 2);
    // Nobody is a VIP lead any more: bob and cyd are customers, ada lost the tag.
    expect(second.memberCount).toBe(0);
    expect((await admin('GET', `/v1/segments/${id}/members`)).body.items).toEqual([]);
  }, 300_000);
});

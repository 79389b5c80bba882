import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeCompany, makeContact, makeNote } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Duplicates and merges across the whole stack, over real HTTP in the local cloud: the block policy under
 * concurrency through API Gateway and the Lambda pool; a merge whose loser answers 301; its notes moved to the
 * winner's timeline by the consumer of `contact.merged` (stream → publisher → EventBridge rule → Lambda); candidate
 * pairs kept by the consumer of every change.
 */
let cloud: LocalCloud;
let admin: ReturnType<typeof api>;
let token: string;

beforeAll(async () => {
  cloud = await startTestCloud();
  token = await cloud.token({ tenantId: 'dupes', roles: ['admin'], userId: 'alice' });
  admin = api(cloud, token);
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

const person = (overrides: Record<string, unknown>) => makeContact({ phones: [], ...overrides });

describe('duplicates over HTTP', () => {
  it('under block, 20 concurrent creates with the same email make exactly 1 contact; 19 answer 409 naming it', async () => {
    const owner = api(cloud, await cloud.token({ tenantId: 'blocking', roles: ['admin'], userId: 'bob' }));
    const policy = await owner('PATCH', '/v1/settings', { contactDuplicates: 'block' });
    expect(policy.status).toBe(200);
    // Warm the contacts function's workers first: on this 2-core machine, ten cold starts at once can pass Lambda's
    // 10 s init limit (a 500 from the local API Gateway), which is not what this test is about.
    await Promise.all(Array.from({ length: 10 }, () => owner('GET', '/v1/contacts?limit=1')));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        owner('POST', '/v1/contacts', person({ firstName: `Racer${i}`, emails: ['race@blocking.example'] })),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const winner = results.find((r) => r.status === 201)!.body.id;
    for (const refused of results.filter((r) => r.status === 409)) {
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(refused.body).toMatchObject({ code: 'contact.duplicate', existingId: winner });
    }
    const listed = await owner('GET', '/v1/contacts?email=race@blocking.example');
    expect(listed.body.items.map((c: { id: string }) => c.id)).toEqual([winner]);
  }, 120_000);

  it('merges two contacts: the loser answers 301 to the winner, and its notes move to the winner’s timeline', async () => {
    const winner = await admin('POST', '/v1/contacts', person({ firstName: 'Ada', lastName: 'Lovelace' }));
    const loser = await admin('POST', '/v1/contacts', person({ firstName: 'Ada', lastName: 'Lovelace' }));
    expect(loser.status).toBe(201);
    const note = await admin(
      'POST',
      `/v1/contacts/${loser.body.id}/notes`,
      makeNote({ body: 'Met at the Royal Society.' }),
    );
    expect(note.status).toBe(201);

    // The consumer of every change pairs the two by their folded name.
    const pair = await eventually(async () => {
      const res = await admin('GET', '/v1/duplicates?entity=contact');
      return res.body.items.find((p: { recordIds: string[] }) => p.recordIds.includes(loser.body.id));
    });
    expect(pair.matched).toEqual(['name']);

    const merged = await admin(
      'POST',
      '/v1/contacts/merge',
      { winnerId: winner.body.id, loserId: loser.body.id },
      { 'idempotency-key': 'merge-ada', 'if-match': '"1"' },
    );
    expect(merged.status).toBe(200);
    expect(merged.body.id).toBe(winner.body.id);

    const moved = await fetch(`${cloud.apiUrl}/v1/contacts/${loser.body.id}`, {
      headers: { authorization: `Bearer ${token}` },
      redirect: 'manual',
    });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe(`/v1/contacts/${winner.body.id}`);
    expect(moved.headers.get('content-type')).toBe('application/problem+json');
    expect(await moved.json()).toMatchObject({ code: 'contact.merged', mergedInto: winner.body.id });
    // A client that follows redirects lands on the winner.
    const followed = await admin('GET', `/v1/contacts/${loser.body.id}`);
    expect(followed.status).toBe(200);
    expect(followed.body.id).toBe(winner.body.id);

    const timeline = await eventually(async () => {
      const res = await admin('GET', `/v1/contacts/${winner.body.id}/timeline`);
      return res.body.items.some((e: { id: string }) => e.id === note.body.id) ? res.body.items : undefined;
    }, 60_000);
    expect(timeline.map((e: { id: string }) => e.id)).toEqual([note.body.id]);

    // The loser's history records the merge (the audit trail writes it from contact.merged).
    const history = await eventually(async () => {
      const res = await admin('GET', `/v1/contacts/${loser.body.id}/history`);
      return res.body.items.find((e: { action: string }) => e.action === 'merged');
    });
    expect(history.changes.mergedInto).toEqual({ new: winner.body.id });

    // And the pair leaves the list once the consumer sees the merge.
    await eventually(async () => {
      const res = await admin('GET', '/v1/duplicates?entity=contact');
      return res.body.items.some((p: { recordIds: string[] }) => p.recordIds.includes(loser.body.id))
        ? undefined
        : true;
    });

    // Repeating the merge answers the same.
    const again = await admin(
      'POST',
      '/v1/contacts/merge',
      { winnerId: winner.body.id, loserId: loser.body.id },
      { 'idempotency-key': 'merge-ada' },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(merged.body);
  }, 120_000);

  it('merges two companies and moves the loser’s contacts to the winner', async () => {
    const w = await admin('POST', '/v1/companies', makeCompany({ name: 'Initrode' }));
    const l = await admin('POST', '/v1/companies', makeCompany({ name: 'Initrode Inc.' }));
    const staff = await admin('POST', '/v1/contacts', person({ companyId: l.body.id }));
    const merged = await admin('POST', '/v1/companies/merge', { winnerId: w.body.id, loserId: l.body.id });
    expect(merged.status).toBe(200);
    await eventually(async () => {
      const res = await admin('GET', `/v1/contacts/${staff.body.id}`);
      return res.body.companyId === w.body.id ? true : undefined;
    }, 60_000);
    const contacts = await admin('GET', `/v1/companies/${w.body.id}/contacts`);
    expect(contacts.body.items.map((c: { id: string }) => c.id)).toEqual([staff.body.id]);
  }, 120_000);
});

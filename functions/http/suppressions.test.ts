import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

type Client = ReturnType<typeof apiClient>;
let suppressionsAs: (tenantId: string, roles?: string[]) => Client;
let store: typeof import('../../shared/suppression/store.ts');

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('./suppressions.ts')).handler;
  store = await import('../../shared/suppression/store.ts');
  suppressionsAs = (tenantId, roles = ['marketing']) => apiClient(handler, { tenantId, roles, userId: 'marketer-1' });
});

describe('suppression list', () => {
  it('adds an address by hand (lower-cased, reason manual), gets it, and the first entry stands', async () => {
    const tenant = uniqueTenant('sup');
    const call = suppressionsAs(tenant);
    const added = await call('POST', '/v1/suppressions', { body: { email: ' Ada@Example.COM ', detail: 'asked' } });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      email: 'ada@example.com',
      reason: 'manual',
      suppressedAt: expect.any(String),
      detail: 'asked',
      createdBy: 'marketer-1',
    });
    const again = await call('POST', '/v1/suppressions', { body: { email: 'ada@example.com', detail: 'other' } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(added.body);
    const got = await call('GET', '/v1/suppressions/ADA@example.com');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(added.body);
    // A bounce recorded by the tracking consumer later changes nothing: the first entry stands.
    expect(await store.suppressAddress(tenant, { email: 'ada@example.com', reason: 'hard_bounce' })).toBe(false);
    expect((await call('GET', '/v1/suppressions/ada@example.com')).body.reason).toBe('manual');
  });

  it('replays a POST with the same Idempotency-Key, and refuses the key with another body', async () => {
    const tenant = uniqueTenant('sup');
    const call = suppressionsAs(tenant);
    const headers = { 'idempotency-key': 'sup-1' };
    const first = await call('POST', '/v1/suppressions', { body: { email: 'grace@example.com' }, headers });
    expect(first.status).toBe(201);
    const replay = await call('POST', '/v1/suppressions', { body: { email: 'grace@example.com' }, headers });
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    const reused = await call('POST', '/v1/suppressions', { body: { email: 'other@example.com' }, headers });
    expect(reused.status).toBe(422);
    expect((await call('GET', '/v1/suppressions/other@example.com')).status).toBe(404);
  });

  it('lists newest first with a cursor, only the tenant’s own entries', async () => {
    const tenant = uniqueTenant('sup');
    const call = suppressionsAs(tenant);
    const emails = ['a@example.com', 'b@example.com', 'c@example.com'];
    for (const email of emails) {
      await store.suppressAddress(tenant, { email, reason: 'complaint', source: 'ses-1' });
      await new Promise((r) => setTimeout(r, 5));
    }
    await store.suppressAddress(uniqueTenant('sup'), { email: 'z@example.com', reason: 'complaint' });
    const page1 = await call('GET', '/v1/suppressions?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((e: { email: string }) => e.email)).toEqual(['c@example.com', 'b@example.com']);
    expect(page1.body.items[0]).toMatchObject({ reason: 'complaint', source: 'ses-1' });
    expect(page1.body.items[0].gsi4pk).toBeUndefined();
    const page2 = await call('GET', `/v1/suppressions?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((e: { email: string }) => e.email)).toEqual(['a@example.com']);
    expect(page2.body.nextCursor).toBeNull();
    // Another tenant's cursor is refused.
    const other = await suppressionsAs(uniqueTenant('sup'))('GET', `/v1/suppressions?cursor=${page1.body.nextCursor}`);
    expect(other.status).toBe(400);
  });

  it('removes an address (204), then 404; every role reads, only managers of the list change it', async () => {
    const tenant = uniqueTenant('sup');
    const call = suppressionsAs(tenant);
    await call('POST', '/v1/suppressions', { body: { email: 'gone@example.com' } });
    expect((await suppressionsAs(tenant, ['readonly'])('GET', '/v1/suppressions/gone@example.com')).status).toBe(200);
    expect((await suppressionsAs(tenant, ['sales'])('DELETE', '/v1/suppressions/gone@example.com')).status).toBe(403);
    expect(
      (await suppressionsAs(tenant, ['sales'])('POST', '/v1/suppressions', { body: { email: 'x@example.com' } }))
        .status,
    ).toBe(403);
    expect((await call('DELETE', '/v1/suppressions/Gone@Example.com')).status).toBe(204);
    expect((await call('GET', '/v1/suppressions/gone@example.com')).status).toBe(404);
    const again = await call('DELETE', '/v1/suppressions/gone@example.com');
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('suppression.not_found');
    expect((await store.suppressedAmong(tenant, ['gone@example.com'])).size).toBe(0);
  });

  it('refuses bad addresses and bodies field by field', async () => {
    const call = suppressionsAs(uniqueTenant('sup'));
    const bad = await call('POST', '/v1/suppressions', { body: { email: 'not an address', reason: 'manual' } });
    expect(bad.status).toBe(400);
    expect(bad.body.fieldErrors.map((e: { field: string }) => e.field).sort()).toEqual(['body.email', 'body.reason']);
    expect((await call('GET', '/v1/suppressions/not-an-address')).status).toBe(400);
    expect((await call('GET', '/v1/suppressions?limit=0')).status).toBe(400);
  });
});

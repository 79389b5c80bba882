import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { putTeam } from '../../test/support/teams.ts';

type Client = ReturnType<typeof apiClient>;
let mailboxesAs: (tenantId: string, roles?: string[]) => Client;
let service: typeof import('../../shared/mailboxes/service.ts');

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('./mailboxes.ts')).handler;
  service = await import('../../shared/mailboxes/service.ts');
  mailboxesAs = (tenantId, roles = ['admin']) => apiClient(handler, { tenantId, roles, userId: 'admin-1' });
});

let counter = 0;
/** A fresh address per test: claims are global, so tests must not share one. */
const freshAddress = (local = 'support') => `${local}${++counter}-${Date.now().toString(36)}@help.example.com`;
const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function declare(api: Client, body: Record<string, unknown>): Promise<TestResponse> {
  return api('POST', '/v1/mailboxes', { body: { name: 'Support', ...body } });
}

describe('mailboxes', () => {
  it('creates, reads, lists by address with cursors, patches with If-Match and deletes', async () => {
    const t = uniqueTenant('mbx');
    const api = mailboxesAs(t);
    await putTeam(t, 'team-1', []);
    const address = freshAddress();
    const body = {
      address: `  ${address.toUpperCase()} `,
      name: 'Support',
      teamId: 'team-1',
      verdictPolicy: { spf: 'reject' },
    };
    const created = await api('POST', '/v1/mailboxes', { body, headers: { 'idempotency-key': 'mbx-1' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/mailboxes/${created.body.id}`);
    expect(created.body).toMatchObject({
      address,
      name: 'Support',
      teamId: 'team-1',
      defaultPriority: 'normal',
      verdictPolicy: { spam: 'reject', spf: 'reject', dkim: 'flag', dmarc: 'flag' },
      version: 1,
      createdBy: 'admin-1',
    });
    expect(created.body.tenantId).toBeUndefined();
    // A retried create replays the first answer and claims nothing twice.
    const replay = await api('POST', '/v1/mailboxes', { body, headers: { 'idempotency-key': 'mbx-1' } });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(created.body.id);

    const id = created.body.id as string;
    expect((await api('GET', `/v1/mailboxes/${id}`)).body).toEqual(created.body);
    for (const local of ['a-first', 'z-last'])
      expect((await declare(api, { address: freshAddress(local) })).status).toBe(201);
    const first = await api('GET', '/v1/mailboxes?limit=2');
    expect(first.body.items.map((m: { address: string }) => m.address)).toEqual(
      [...first.body.items.map((m: { address: string }) => m.address)].sort(),
    );
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api('GET', `/v1/mailboxes?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();

    const stale = await api('PATCH', `/v1/mailboxes/${id}`, { body: { name: 'Help' }, headers: { 'if-match': '"7"' } });
    expect(stale.status).toBe(412);
    const patched = await api('PATCH', `/v1/mailboxes/${id}`, {
      body: { name: 'Help', teamId: null, defaultPriority: 'high', verdictPolicy: { spam: 'flag' }, replyName: 'Acme' },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'Help',
      defaultPriority: 'high',
      verdictPolicy: { spam: 'flag', spf: 'reject', dkim: 'flag', dmarc: 'flag' },
      replyName: 'Acme',
      version: 2,
    });
    expect(patched.body.teamId).toBeUndefined();

    expect((await api('DELETE', `/v1/mailboxes/${id}`, { headers: { 'if-match': '"1"' } })).status).toBe(412);
    expect((await api('DELETE', `/v1/mailboxes/${id}`, { headers: { 'if-match': '"2"' } })).status).toBe(204);
    expect((await api('GET', `/v1/mailboxes/${id}`)).status).toBe(404);
    expect(await service.resolveMailbox(address)).toBeUndefined();
  });

  it('refuses addresses that cannot be a mailbox, with the field named', async () => {
    const api = mailboxesAs(uniqueTenant('mbx'));
    const long = `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.com`;
    for (const address of [
      'support+tickets@help.example.com',
      'support',
      'support@localhost',
      '@help.example.com',
      'a..b@help.example.com',
      'säpport@help.example.com',
      'support@-help.example.com',
      long,
      '',
    ]) {
      const res = await declare(api, { address });
      expect(res.status, address).toBe(400);
      expect(fieldsOf(res), address).toContain('body.address');
    }
    const unknownTeam = await declare(api, { address: freshAddress(), teamId: 'nope' });
    expect(unknownTeam.status).toBe(400);
    expect(fieldsOf(unknownTeam)).toContain('body.teamId');
    const badPolicy = await declare(api, { address: freshAddress(), verdictPolicy: { virus: 'flag' } });
    expect(badPolicy.status).toBe(400);
  });

  it('lets one address feed one mailbox of one tenant only, without saying whose it is', async () => {
    const [a, b] = [uniqueTenant('mbxa'), uniqueTenant('mbxb')];
    const address = freshAddress();
    const mine = await declare(mailboxesAs(a), { address });
    expect(mine.status).toBe(201);
    for (const [tenant, candidate] of [
      [b, address],
      [b, address.toUpperCase()],
      [a, address],
    ] as const) {
      const taken = await declare(mailboxesAs(tenant), { address: candidate });
      expect(taken.status).toBe(409);
      expect(taken.body.code).toBe('mailbox.address_taken');
      expect(JSON.stringify(taken.body)).not.toContain(a);
      expect(JSON.stringify(taken.body)).not.toContain(mine.body.id);
    }
    // Another tenant cannot read, change or delete it either.
    expect((await mailboxesAs(b)('GET', `/v1/mailboxes/${mine.body.id}`)).status).toBe(404);
    expect((await mailboxesAs(b)('DELETE', `/v1/mailboxes/${mine.body.id}`)).status).toBe(404);
    expect(await service.resolveMailbox(`Support+T-1042@${address.split('@')[1]}`)).toBeUndefined();
    expect(await service.resolveMailbox(address.replace('@', '+T-1042@').toUpperCase())).toEqual({
      tenantId: a,
      mailboxId: mine.body.id,
    });
  });

  it('of racing creates for one address across tenants, exactly one wins', async () => {
    const address = freshAddress('race');
    const tenants = Array.from({ length: 6 }, () => uniqueTenant('race'));
    const results = await Promise.all(tenants.map((t) => declare(mailboxesAs(t), { address })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
    const winner = tenants[results.findIndex((r) => r.status === 201)]!;
    expect((await service.resolveMailbox(address))?.tenantId).toBe(winner);
  });

  it('moves the claim with an address change, and keeps it when the new address is taken', async () => {
    const [a, b] = [uniqueTenant('mvA'), uniqueTenant('mvB')];
    const [first, second, other] = [freshAddress(), freshAddress(), freshAddress()];
    const mailbox = (await declare(mailboxesAs(a), { address: first })).body;
    expect((await declare(mailboxesAs(b), { address: other })).status).toBe(201);

    const blocked = await mailboxesAs(a)('PATCH', `/v1/mailboxes/${mailbox.id}`, { body: { address: other } });
    expect(blocked.status).toBe(409);
    expect(blocked.body.code).toBe('mailbox.address_taken');
    expect((await mailboxesAs(a)('GET', `/v1/mailboxes/${mailbox.id}`)).body.address).toBe(first);
    expect((await service.resolveMailbox(first))?.mailboxId).toBe(mailbox.id);

    const moved = await mailboxesAs(a)('PATCH', `/v1/mailboxes/${mailbox.id}`, { body: { address: second } });
    expect(moved.status).toBe(200);
    expect(await service.resolveMailbox(first)).toBeUndefined();
    expect(await service.resolveMailbox(second)).toEqual({ tenantId: a, mailboxId: mailbox.id });
    // The released address is free again, for anyone.
    expect((await declare(mailboxesAs(b), { address: first })).status).toBe(201);
  });

  it('accepts only addresses the receipt rule covers, when the stack names recipients', async () => {
    const api = mailboxesAs(uniqueTenant('rcpt'));
    process.env.INBOUND_RECIPIENTS = 'help.example.com, .support.example.org,desk@other.example';
    try {
      expect((await declare(api, { address: freshAddress() })).status).toBe(201);
      expect((await declare(api, { address: `x${Date.now()}@eu.support.example.org` })).status).toBe(201);
      expect((await declare(api, { address: 'desk@other.example' })).status).toBe(201);
      for (const address of [`y${Date.now()}@support.example.org`, 'help@other.example', 'me@elsewhere.example']) {
        const refused = await declare(api, { address });
        expect(refused.status, address).toBe(400);
        expect(refused.body.fieldErrors[0]).toMatchObject({ field: 'body.address', code: 'address_not_received' });
      }
      const mailbox = (await api('GET', '/v1/mailboxes')).body.items[0];
      const moved = await api('PATCH', `/v1/mailboxes/${mailbox.id}`, { body: { address: 'me@elsewhere.example' } });
      expect(moved.status).toBe(400);
    } finally {
      delete process.env.INBOUND_RECIPIENTS;
    }
  });

  it('is managed by admins and managers; other roles may read', async () => {
    const t = uniqueTenant('role');
    const created = await declare(mailboxesAs(t, ['manager']), { address: freshAddress() });
    expect(created.status).toBe(201);
    expect((await declare(mailboxesAs(t, ['support']), { address: freshAddress() })).status).toBe(403);
    expect((await mailboxesAs(t, ['support'])('GET', `/v1/mailboxes/${created.body.id}`)).status).toBe(200);
    expect((await mailboxesAs(t, ['readonly'])('DELETE', `/v1/mailboxes/${created.body.id}`)).status).toBe(403);
  });
});

describe('addresses', () => {
  it('reads the +tag of an envelope recipient', async () => {
    const { subaddressTag } = await import('../../shared/mailboxes/address.ts');
    expect(subaddressTag('support+T-1042@acme.example')).toBe('T-1042');
    expect(subaddressTag('support+@acme.example')).toBeUndefined();
    expect(subaddressTag('support@acme.example')).toBeUndefined();
    expect(subaddressTag('support+a+b@acme.example')).toBe('a+b');
  });
});

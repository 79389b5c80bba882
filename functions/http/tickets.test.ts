import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { putTeam } from '../../test/support/teams.ts';
import { putUser } from '../../test/support/users.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
type Client = ReturnType<typeof apiClient>;
let ticketsAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let contactsAs: (tenantId: string) => Client;
let companiesAs: (tenantId: string) => Client;
let customFieldsAs: (tenantId: string) => Client;
let service: typeof import('../../shared/tickets/service.ts');
let model: typeof import('../../shared/db/store.ts').model;
const tenant = uniqueTenant('tix');

beforeAll(async () => {
  await useFreshTable();
  const tickets = (await import('./tickets.ts')).handler;
  const contacts = (await import('./contacts.ts')).handler;
  const companies = (await import('./companies.ts')).handler;
  const customFields = (await import('./custom-fields.ts')).handler;
  service = await import('../../shared/tickets/service.ts');
  model = (await import('../../shared/db/store.ts')).model;
  ticketsAs = (tenantId, roles = ['support'], userId = 'agent-1') => apiClient(tickets, { tenantId, roles, userId });
  contactsAs = (tenantId) => apiClient(contacts, { tenantId, roles: ['admin'], userId: 'admin-1' });
  companiesAs = (tenantId) => apiClient(companies, { tenantId, roles: ['admin'], userId: 'admin-1' });
  customFieldsAs = (tenantId) => apiClient(customFields, { tenantId, roles: ['admin'], userId: 'admin-1' });
});

const fieldsOf = (res: TestResponse) => ((res.body?.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((t) => t.id);

async function newContact(tenantId = tenant): Promise<string> {
  const res = await contactsAs(tenantId)('POST', '/v1/contacts', { body: makeContact() });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function newCompany(tenantId = tenant): Promise<string> {
  const res = await companiesAs(tenantId)('POST', '/v1/companies', { body: makeCompany() });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function all(client: Client, path: string, limit = 2): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const res: TestResponse = await client('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    seen.push(...idsOf(res));
    cursor = res.body.nextCursor;
  } while (cursor);
  return seen;
}

describe('tickets: create, numbers, get', () => {
  it('opens a ticket with the first number, defaults, and shows it on the requester and company timelines', async () => {
    const t = uniqueTenant('tix1');
    const [requesterId, companyId] = [await newContact(t), await newCompany(t)];
    const agent = ticketsAs(t);
    const res = await agent('POST', '/v1/tickets', {
      body: {
        subject: 'Printer on fire',
        description: 'Smoke!',
        requesterId,
        companyId,
        tags: ['Hardware', 'hardware'],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/v1/tickets/${res.body.id}`);
    expect(res.body).toMatchObject({
      number: 'T-1001',
      seq: 1001,
      subject: 'Printer on fire',
      status: 'new',
      priority: 'normal',
      channel: 'api',
      requesterId,
      companyId,
      tags: ['hardware'],
      messageCount: 0,
      version: 1,
      createdBy: 'agent-1',
    });
    const second = await agent('POST', '/v1/tickets', { body: { subject: 'Again', requesterId } });
    expect(second.body.number).toBe('T-1002');

    const got = await agent('GET', `/v1/tickets/${res.body.id}`);
    expect(got.body).toEqual(res.body);
    const byNumber = await agent('GET', '/v1/tickets/by-number/T-1002');
    expect(byNumber.status).toBe(200);
    expect(byNumber.body.id).toBe(second.body.id);
    expect((await agent('GET', '/v1/tickets/by-number/t1001')).body.id).toBe(res.body.id);
    expect((await agent('GET', '/v1/tickets/by-number/T-9999')).status).toBe(404);
    expect((await agent('GET', '/v1/tickets/by-number/ticket-1')).status).toBe(400);

    for (const [type, id] of [
      ['contacts', requesterId],
      ['companies', companyId],
    ] as const) {
      const client = type === 'contacts' ? contactsAs(t) : companiesAs(t);
      const timeline = await client('GET', `/v1/${type}/${id}/timeline`);
      expect(timeline.status).toBe(200);
      const entry = timeline.body.items.find((i: { id: string }) => i.id === res.body.id);
      expect(entry, type).toMatchObject({
        type: 'ticket',
        data: { number: 'T-1001', subject: 'Printer on fire', status: 'new' },
      });
    }
  });

  it('refuses a missing requester, company, assignee or team without using a number', async () => {
    const t = uniqueTenant('tix2');
    const requesterId = await newContact(t);
    const agent = ticketsAs(t);
    const missing = await agent('POST', '/v1/tickets', { body: { subject: 'x', requesterId: 'nobody' } });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('ticket.contact_not_found');
    expect(fieldsOf(missing)).toEqual(['body.requesterId']);
    for (const [field, code] of [
      ['companyId', 'ticket.company_not_found'],
      ['assigneeId', 'ticket.user_not_found'],
      ['teamId', 'ticket.team_not_found'],
    ] as const) {
      const res = await agent('POST', '/v1/tickets', { body: { subject: 'x', requesterId, [field]: 'ghost' } });
      expect(res.status, field).toBe(400);
      expect(res.body.code).toBe(code);
    }
    // No number was used: the first ticket that is written gets the first number.
    const ok = await agent('POST', '/v1/tickets', { body: { subject: 'ok', requesterId } });
    expect(ok.body.number).toBe('T-1001');
    const invalid = await agent('POST', '/v1/tickets', {
      body: { subject: '', requesterId, priority: 'extreme', channel: 'fax', status: 'solved' },
    });
    expect(invalid.status).toBe(400);
    expect(fieldsOf(invalid).sort()).toEqual(['body.channel', 'body.priority', 'body.status', 'body.subject']);
    expect((await agent('POST', '/v1/tickets', { body: { subject: 'next', requesterId } })).body.number).toBe('T-1002');
  });

  it('gives 50 concurrent creates 50 distinct consecutive numbers, with refused creates racing them', async () => {
    const t = uniqueTenant('tix3');
    const requesterId = await newContact(t);
    const { runAsTenant } = await import('../../shared/db/tenant-context.ts');
    const principal = { tenantId: t, userId: 'agent-1', roles: ['support' as const] };
    // Through the service, as 50 Lambda containers would call it at once (in one process, the API layer's 10 s
    // budget would be spent by the other 49 requests' CPU; the burst through the API is the next test).
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) =>
        runAsTenant(t, () => service.createTicket(principal, { subject: `Burst ${i}`, requesterId })),
      ),
      ...Array.from({ length: 10 }, () =>
        runAsTenant(t, () => service.createTicket(principal, { subject: 'Bad', requesterId: 'nobody' })),
      ),
    ]);
    const created = results.slice(0, 50);
    for (const r of created) expect(r.status, r.status === 'rejected' ? String(r.reason) : '').toBe('fulfilled');
    for (const r of results.slice(50)) {
      expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ticket.contact_not_found' } });
    }
    const numbers = created.map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => 1001 + i));
    const counter = await model.entities.ticketCounter.get({ tenantId: t }).go({ consistent: true });
    expect(counter.data?.last).toBe(1050);
    const listed = await all(ticketsAs(t), '/v1/tickets', 100);
    expect(listed).toHaveLength(50);
  }, 120_000);

  it('numbers a burst of concurrent API creates without gaps or collisions', async () => {
    const t = uniqueTenant('tix3b');
    const requesterId = await newContact(t);
    const agent = ticketsAs(t);
    const results = await Promise.all([
      ...Array.from({ length: 15 }, (_, i) =>
        agent('POST', '/v1/tickets', { body: { subject: `Burst ${i}`, requesterId } }),
      ),
      ...Array.from({ length: 5 }, () =>
        agent('POST', '/v1/tickets', { body: { subject: 'Bad', requesterId: 'nobody' } }),
      ),
    ]);
    for (const res of results.slice(0, 15)) expect(res.status, JSON.stringify(res.body)).toBe(201);
    for (const res of results.slice(15)) expect(res.status).toBe(400);
    const numbers = results
      .slice(0, 15)
      .map((r) => r.body.seq as number)
      .sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 15 }, (_, i) => 1001 + i));
  }, 60_000);

  it('replays a create with the same Idempotency-Key without using another number', async () => {
    const t = uniqueTenant('tix4');
    const requesterId = await newContact(t);
    const agent = ticketsAs(t);
    const body = { subject: 'Once', requesterId };
    const headers = { 'idempotency-key': 'create-once' };
    const [a, b] = await Promise.all([
      agent('POST', '/v1/tickets', { body, headers }),
      agent('POST', '/v1/tickets', { body, headers }),
    ]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body).toEqual(a.body);
    const again = await agent('POST', '/v1/tickets', { body, headers });
    expect(again.body.id).toBe(a.body.id);
    expect((await agent('POST', '/v1/tickets', { body, headers: { 'idempotency-key': 'other' } })).body.number).toBe(
      'T-1002',
    );
  });

  it('keeps tenants apart: numbers, reads and lists', async () => {
    const [a, b] = [uniqueTenant('tixa'), uniqueTenant('tixb')];
    const [ra, rb] = [await newContact(a), await newContact(b)];
    const ta = await ticketsAs(a)('POST', '/v1/tickets', { body: { subject: 'A', requesterId: ra } });
    const tb = await ticketsAs(b)('POST', '/v1/tickets', { body: { subject: 'B', requesterId: rb } });
    expect([ta.body.number, tb.body.number]).toEqual(['T-1001', 'T-1001']);
    expect((await ticketsAs(b)('GET', `/v1/tickets/${ta.body.id}`)).status).toBe(404);
    expect((await ticketsAs(b)('GET', '/v1/tickets/by-number/T-1001')).body.id).toBe(tb.body.id);
    expect(await all(ticketsAs(b), '/v1/tickets')).toEqual([tb.body.id]);
    // A requester of another tenant does not exist here.
    expect((await ticketsAs(b)('POST', '/v1/tickets', { body: { subject: 'x', requesterId: ra } })).status).toBe(400);
  });

  it('checks custom fields against the ticket schema', async () => {
    const t = uniqueTenant('tix5');
    const requesterId = await newContact(t);
    const put = await customFieldsAs(t)('PUT', '/v1/custom-fields/ticket', {
      body: { fields: [{ key: 'plan', label: 'Plan', type: 'select', options: ['free', 'pro'] }] },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const agent = ticketsAs(t);
    const bad = await agent('POST', '/v1/tickets', {
      body: { subject: 'x', requesterId, customFields: { plan: 'gold' } },
    });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['body.customFields.plan']);
    const ok = await agent('POST', '/v1/tickets', {
      body: { subject: 'x', requesterId, customFields: { plan: 'pro' } },
    });
    expect(ok.body.customFields).toEqual({ plan: 'pro' });
    expect(ok.body.number).toBe('T-1001');
  });

  it('denies by default: sales and readonly may read but not write, only managers delete', async () => {
    const requesterId = await newContact();
    const created = await ticketsAs(tenant)('POST', '/v1/tickets', { body: { subject: 'Perms', requesterId } });
    for (const role of ['sales', 'readonly', 'marketing']) {
      const client = ticketsAs(tenant, [role]);
      expect((await client('POST', '/v1/tickets', { body: { subject: 'x', requesterId } })).status, role).toBe(403);
      expect((await client('GET', `/v1/tickets/${created.body.id}`)).status, role).toBe(200);
    }
    expect((await ticketsAs(tenant)('DELETE', `/v1/tickets/${created.body.id}`)).status).toBe(403);
    expect((await ticketsAs(tenant, ['manager'])('DELETE', `/v1/tickets/${created.body.id}`)).status).toBe(204);
    expect((await ticketsAs(tenant)('GET', `/v1/tickets/${created.body.id}`)).status).toBe(404);
  });
});

describe('tickets: changes and views', () => {
  it('patches status with solvedAt/closedAt, enforces If-Match, and closed is final', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Lifecycle', requesterId } });
    const stale = await agent('PATCH', `/v1/tickets/${ticket.id}`, {
      body: { status: 'open' },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    const solved = await agent('PATCH', `/v1/tickets/${ticket.id}`, {
      body: { status: 'solved', priority: 'high', category: 'billing' },
      headers: { 'if-match': '"1"' },
    });
    expect(solved.status).toBe(200);
    expect(solved.body).toMatchObject({ status: 'solved', priority: 'high', category: 'billing', version: 2 });
    expect(solved.body.solvedAt).toBeDefined();
    const back = await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'new' } });
    expect(back.status).toBe(400);
    const reopened = await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'open', category: null } });
    expect(reopened.body.solvedAt).toBeUndefined();
    expect(reopened.body.category).toBeUndefined();
    const closed = await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'closed' } });
    expect(closed.body.closedAt).toBeDefined();
    expect(closed.body.solvedAt).toBeDefined();
    const after = await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { priority: 'low' } });
    expect(after.status).toBe(409);
    expect(after.body.code).toBe('ticket.closed');
    const reply = await agent('POST', `/v1/tickets/${ticket.id}/messages`, { body: { bodyText: 'hello?' } });
    expect(reply.status).toBe(409);
  });

  it('serves the views by status, assignee, team and priority, newest-updated first, paginated', async () => {
    const t = uniqueTenant('tix6');
    const requesterId = await newContact(t);
    await putUser(t, 'agent-a');
    await putUser(t, 'agent-b');
    await putTeam(t, 'team-1', []);
    const agent = ticketsAs(t);
    const make = async (body: Record<string, unknown>) => {
      const res = await agent('POST', '/v1/tickets', { body: { subject: 'View', requesterId, ...body } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id as string;
    };
    const a1 = await make({ assigneeId: 'agent-a', teamId: 'team-1', priority: 'urgent' });
    const a2 = await make({ assigneeId: 'agent-a', priority: 'urgent' });
    const b1 = await make({ assigneeId: 'agent-b', teamId: 'team-1' });
    const n1 = await make({});
    expect(await all(agent, '/v1/tickets?assigneeId=agent-a')).toEqual([a2, a1]);
    expect(await all(agent, '/v1/tickets?teamId=team-1')).toEqual([b1, a1]);
    expect(await all(agent, '/v1/tickets?priority=urgent')).toEqual([a2, a1]);
    expect(await all(agent, '/v1/tickets?status=open')).toEqual([b1, a2, a1]);
    expect(await all(agent, '/v1/tickets?status=new')).toEqual([n1]);
    expect(await all(agent, '/v1/tickets')).toEqual([n1, b1, a2, a1]);

    // An update moves a ticket to the top; solving takes it out of the queues but not out of its status view.
    await agent('PATCH', `/v1/tickets/${a1}`, { body: { description: 'bumped' } });
    expect(await all(agent, '/v1/tickets?assigneeId=agent-a')).toEqual([a1, a2]);
    await agent('PATCH', `/v1/tickets/${a2}`, { body: { status: 'solved' } });
    expect(await all(agent, '/v1/tickets?assigneeId=agent-a')).toEqual([a1]);
    expect(await all(agent, '/v1/tickets?priority=urgent')).toEqual([a1]);
    expect(await all(agent, '/v1/tickets?status=solved')).toEqual([a2]);
    // Reassigning moves it between queues; the new assignee must exist.
    expect((await agent('PATCH', `/v1/tickets/${a1}`, { body: { assigneeId: 'ghost' } })).status).toBe(400);
    await agent('PATCH', `/v1/tickets/${a1}`, { body: { assigneeId: 'agent-b', teamId: null } });
    expect(await all(agent, '/v1/tickets?assigneeId=agent-a')).toEqual([]);
    expect(await all(agent, '/v1/tickets?assigneeId=agent-b')).toEqual([a1, b1]);
    expect(await all(agent, '/v1/tickets?teamId=team-1')).toEqual([b1]);

    // The trash and the sync feed.
    await ticketsAs(t, ['manager'])('DELETE', `/v1/tickets/${n1}`);
    expect(await all(agent, '/v1/tickets?inTrash=true')).toEqual([n1]);
    expect(await all(agent, '/v1/tickets?status=new')).toEqual([]);
    const synced = await all(agent, `/v1/tickets?updatedSince=${encodeURIComponent('2000-01-01T00:00:00Z')}`);
    expect(synced.sort()).toEqual([a1, a2, b1, n1].sort());

    // A removed user's open records include their tickets (the shared owner partition).
    const { openRecords } = await import('../../shared/users/service.ts');
    const open = await openRecords({ tenantId: t, userId: 'admin', roles: ['admin'] }, 'agent-b', { limit: 10 });
    expect(open.items.filter((r) => r.entity === 'ticket').map((r) => r.id)).toEqual([b1, a1]);
  });

  it('moves the ticket between timelines when its requester or company changes, and off them when deleted', async () => {
    const t = uniqueTenant('tix7');
    const [first, second, companyId] = [await newContact(t), await newContact(t), await newCompany(t)];
    const agent = ticketsAs(t);
    const { body: ticket } = await agent('POST', '/v1/tickets', {
      body: { subject: 'Moves', requesterId: first, companyId },
    });
    const onTimeline = async (type: 'contacts' | 'companies', id: string) => {
      const client = type === 'contacts' ? contactsAs(t) : companiesAs(t);
      const res = await client('GET', `/v1/${type}/${id}/timeline`);
      return res.body.items
        .filter((i: { id: string }) => i.id === ticket.id)
        .map((i: { data: { status: string } }) => i.data.status);
    };
    const moved = await agent('PATCH', `/v1/tickets/${ticket.id}`, {
      body: { requesterId: second, companyId: null, status: 'on_hold' },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(await onTimeline('contacts', first)).toEqual([]);
    expect(await onTimeline('contacts', second)).toEqual(['on_hold']);
    expect(await onTimeline('companies', companyId)).toEqual([]);
    expect((await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { requesterId: 'ghost' } })).status).toBe(400);
    await ticketsAs(t, ['admin'])('DELETE', `/v1/tickets/${ticket.id}`, { headers: { 'if-match': '"2"' } });
    expect(await onTimeline('contacts', second)).toEqual([]);
  });

  it('refuses two filters at once, a forged cursor and unknown query fields', async () => {
    const agent = ticketsAs(tenant);
    const two = await agent('GET', '/v1/tickets?status=open&priority=high');
    expect(two.status).toBe(400);
    expect(fieldsOf(two).sort()).toEqual(['query.priority', 'query.status']);
    const forged = Buffer.from(JSON.stringify({ pk: 'x', sk: 'y', gsi2pk: 'other#ticket#status#open', gsi2sk: 'z' }));
    const res = await agent('GET', `/v1/tickets?status=open&cursor=${forged.toString('base64url')}`);
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['query.cursor']);
    expect((await agent('GET', '/v1/tickets?sort=asc')).status).toBe(400);
  });
});

describe('tickets: the thread', () => {
  it('adds replies and notes as their own items, oldest first, and keeps the ticket in step', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Thread', requesterId } });
    const note = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { visibility: 'internal', bodyText: 'Looks like a known bug' },
    });
    expect(note.status, JSON.stringify(note.body)).toBe(201);
    expect(note.body.message).toMatchObject({ visibility: 'internal', authorType: 'user', authorId: 'agent-1' });
    // An internal note neither opens the ticket nor counts as a first response.
    expect(note.body.ticket).toMatchObject({ status: 'new', messageCount: 1, version: 2 });
    expect(note.body.ticket.firstRespondedAt).toBeUndefined();
    const reply = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { bodyText: 'We are on it', bodyHtml: '<p>We are on it</p>', status: 'pending' },
      headers: { 'idempotency-key': 'reply-1' },
    });
    expect(reply.body.ticket).toMatchObject({ status: 'pending', messageCount: 2, version: 3 });
    expect(reply.body.ticket.firstRespondedAt).toBeDefined();
    const replayed = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { bodyText: 'We are on it', bodyHtml: '<p>We are on it</p>', status: 'pending' },
      headers: { 'idempotency-key': 'reply-1' },
    });
    expect(replayed.body).toEqual(reply.body);
    // The customer answers (taken down by an agent): it reopens the pending ticket.
    const customer = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { authorType: 'contact', bodyText: 'Still broken' },
    });
    expect(customer.body.message).toMatchObject({ authorType: 'contact', authorId: requesterId, visibility: 'public' });
    expect(customer.body.ticket).toMatchObject({ status: 'open', messageCount: 3 });

    const thread = await all(agent, `/v1/tickets/${ticket.id}/messages`);
    expect(thread).toEqual([note.body.message.id, reply.body.message.id, customer.body.message.id]);
    const got = await agent('GET', `/v1/tickets/${ticket.id}`);
    expect(got.body).toEqual(customer.body.ticket);
    const { data } = await model.entities.ticketMessage.query
      .byTicket({ tenantId: tenant, ticketId: ticket.id })
      .go({ limit: 10 });
    expect(data).toHaveLength(3);
  });

  it('addCustomerMessage reopens a solved ticket and refuses a closed one', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Reopen', requesterId } });
    await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'solved' } });
    const { runAsTenant } = await import('../../shared/db/tenant-context.ts');
    const result = await runAsTenant(tenant, () =>
      service.addCustomerMessage(tenant, ticket.id, {
        contactId: requesterId,
        bodyText: 'It is back',
        source: { sesMessageId: 'ses-1' },
      }),
    );
    expect(result.ticket).toMatchObject({ status: 'open', messageCount: 1 });
    expect(result.ticket.solvedAt).toBeUndefined();
    expect(result.message).toMatchObject({ authorType: 'contact', source: { sesMessageId: 'ses-1' } });
    await agent('PATCH', `/v1/tickets/${ticket.id}`, { body: { status: 'closed' } });
    await expect(
      runAsTenant(tenant, () =>
        service.addCustomerMessage(tenant, ticket.id, { contactId: requesterId, bodyText: 'x' }),
      ),
    ).rejects.toMatchObject({ code: 'ticket.closed', status: 409 });
  });

  it('keeps concurrent messages and edits consistent: every message counted once', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Busy', requesterId } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        agent('POST', `/v1/tickets/${ticket.id}/messages`, { body: { bodyText: `m${i}` } }),
      ),
    );
    for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(201);
    const got = await agent('GET', `/v1/tickets/${ticket.id}`);
    expect(got.body.messageCount).toBe(8);
    expect(await all(agent, `/v1/tickets/${ticket.id}/messages`, 3)).toHaveLength(8);
  }, 60_000);

  it('refuses empty, oversized and malformed messages and unknown tickets', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Bounds', requesterId } });
    const path = `/v1/tickets/${ticket.id}/messages`;
    expect(fieldsOf(await agent('POST', path, { body: { bodyText: '   ' } }))).toEqual(['body.bodyText']);
    expect(fieldsOf(await agent('POST', path, { body: { bodyText: 'x'.repeat(20_001) } }))).toEqual(['body.bodyText']);
    expect(
      fieldsOf(await agent('POST', path, { body: { bodyText: 'x', authorType: 'contact', visibility: 'internal' } })),
    ).toEqual(['body.visibility']);
    expect(fieldsOf(await agent('POST', path, { body: { bodyText: 'x', status: 'new' } }))).toEqual(['body.status']);
    expect((await agent('POST', '/v1/tickets/nope/messages', { body: { bodyText: 'x' } })).status).toBe(404);
    expect((await agent('GET', '/v1/tickets/nope/messages')).status).toBe(404);
    const got = await agent('GET', `/v1/tickets/${ticket.id}`);
    expect(got.body.messageCount).toBe(0);
  });
});

describe('tickets: attachments through pre-signed URLs against local S3 (s3rver behind its SigV4 guard)', () => {
  let s3: import('../../infra/local/s3.ts').LocalS3;
  let dataDir: string;
  const BUCKET = 'crm-ticket-files-test';

  beforeAll(async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { LocalS3 } = await import('../../infra/local/s3.ts');
    const { TemplateResolver } = await import('../../infra/local/template.ts');
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tickets-s3-'));
    const template = { Resources: { Files: { Type: 'AWS::S3::Bucket', Properties: { BucketName: BUCKET } } } };
    s3 = await LocalS3.start({ resolver: new TemplateResolver(template), dataDir });
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    process.env.ATTACHMENTS_BUCKET = BUCKET;
    return async () => {
      await s3.stop();
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    };
  });

  it('declares a file, uploads it with the signed PUT, references it from a reply, downloads it', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Files', requesterId } });
    const content = Buffer.from('%PDF-1.7 a small invoice\n');
    const declared = await agent('POST', `/v1/tickets/${ticket.id}/attachments`, {
      body: { fileName: 'Rechnung März.pdf', contentType: 'application/PDF', size: content.length },
    });
    expect(declared.status, JSON.stringify(declared.body)).toBe(201);
    expect(declared.body).toMatchObject({ fileName: 'Rechnung März.pdf', contentType: 'application/pdf' });
    const { url, headers } = declared.body.upload;
    expect(url.startsWith(`${s3.endpoint}/${BUCKET}/tickets/${tenant}/${ticket.id}/`)).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('900');

    // Not uploaded yet: a message cannot reference it.
    const early = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { bodyText: 'See attached', attachmentIds: [declared.body.id] },
    });
    expect(early.status).toBe(400);
    expect(early.body.code).toBe('ticket.attachment_not_uploaded');

    // The size and type are signed: another body or type is refused by S3 itself.
    const wrongSize = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': headers['content-type'] },
      body: Buffer.concat([content, content]),
    });
    expect(wrongSize.status).toBe(403);
    const wrongType = await fetch(url, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'text/html' },
      body: content,
    });
    expect(wrongType.status).toBe(403);
    const put = await fetch(url, { method: 'PUT', headers, body: content });
    expect(put.status).toBe(200);

    const reply = await agent('POST', `/v1/tickets/${ticket.id}/messages`, {
      body: { bodyText: 'See attached', attachmentIds: [declared.body.id] },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    expect(reply.body.message.attachmentIds).toEqual([declared.body.id]);

    const got = await agent('GET', `/v1/tickets/${ticket.id}/attachments/${declared.body.id}`);
    expect(got.status).toBe(200);
    const download = await fetch(got.body.download.url);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(content);
    // The link names exactly this object: another key with the same signature is refused.
    const other = got.body.download.url.replace(declared.body.id, `${declared.body.id}x`);
    expect((await fetch(other)).status).toBe(403);
  });

  it('download links expire after 15 minutes', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Old link', requesterId } });
    const declared = await agent('POST', `/v1/tickets/${ticket.id}/attachments`, {
      body: { fileName: 'a.txt', contentType: 'text/plain', size: 2 },
    });
    expect(
      (await fetch(declared.body.upload.url, { method: 'PUT', headers: declared.body.upload.headers, body: 'hi' }))
        .status,
    ).toBe(200);
    const { vi } = await import('vitest');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() - 16 * 60_000);
      const old = await agent('GET', `/v1/tickets/${ticket.id}/attachments/${declared.body.id}`);
      vi.useRealTimers();
      expect((await fetch(old.body.download.url)).status).toBe(403);
    } finally {
      vi.useRealTimers();
    }
    const fresh = await agent('GET', `/v1/tickets/${ticket.id}/attachments/${declared.body.id}`);
    expect(await (await fetch(fresh.body.download.url)).text()).toBe('hi');
  });

  it("refuses unknown files, another ticket's files and bad declarations", async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: one } = await agent('POST', '/v1/tickets', { body: { subject: 'One', requesterId } });
    const { body: two } = await agent('POST', '/v1/tickets', { body: { subject: 'Two', requesterId } });
    const declared = await agent('POST', `/v1/tickets/${one.id}/attachments`, {
      body: { fileName: 'x.txt', contentType: 'text/plain', size: 1 },
    });
    await fetch(declared.body.upload.url, { method: 'PUT', headers: declared.body.upload.headers, body: 'x' });
    const foreign = await agent('POST', `/v1/tickets/${two.id}/messages`, {
      body: { bodyText: 'x', attachmentIds: [declared.body.id] },
    });
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['body.attachmentIds.0']);
    expect((await agent('GET', `/v1/tickets/${two.id}/attachments/${declared.body.id}`)).status).toBe(404);
    expect(
      (await agent('POST', '/v1/tickets/nope/attachments', { body: { fileName: 'x', contentType: 'a/b', size: 1 } }))
        .status,
    ).toBe(404);
    const bad = await agent('POST', `/v1/tickets/${one.id}/attachments`, {
      body: { fileName: '../etc/passwd', contentType: 'not a type', size: 26 * 1024 * 1024 },
    });
    expect(fieldsOf(bad).sort()).toEqual(['body.contentType', 'body.fileName', 'body.size']);
    // Another tenant cannot read the file.
    expect(
      (await ticketsAs(uniqueTenant('thief'))('GET', `/v1/tickets/${one.id}/attachments/${declared.body.id}`)).status,
    ).toBe(404);
  });

  it('storeAttachment keeps a mail attachment that addCustomerMessage then references', async () => {
    const requesterId = await newContact();
    const agent = ticketsAs(tenant);
    const { body: ticket } = await agent('POST', '/v1/tickets', { body: { subject: 'Mail file', requesterId } });
    const { runAsTenant } = await import('../../shared/db/tenant-context.ts');
    const { storeAttachment } = await import('../../shared/tickets/attachments.ts');
    const stored = await runAsTenant(tenant, () =>
      storeAttachment(tenant, ticket.id, `contact:${requesterId}`, {
        fileName: 'photo.png',
        contentType: 'image/png',
        body: new Uint8Array([137, 80, 78, 71]),
      }),
    );
    const result = await runAsTenant(tenant, () =>
      service.addCustomerMessage(tenant, ticket.id, {
        contactId: requesterId,
        bodyText: 'pic',
        attachmentIds: [stored.id],
      }),
    );
    expect(result.message.attachmentIds).toEqual([stored.id]);
    const got = await agent('GET', `/v1/tickets/${ticket.id}/attachments/${stored.id}`);
    expect(new Uint8Array(await (await fetch(got.body.download.url)).arrayBuffer())).toEqual(
      new Uint8Array([137, 80, 78, 71]),
    );
  });
});

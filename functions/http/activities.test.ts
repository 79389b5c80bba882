import ICAL from 'ical.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';

// Handlers read TABLE_NAME when loaded, so they are imported after the table exists.
type Client = ReturnType<typeof apiClient>;
let activitiesAs: (tenantId: string, roles?: string[], userId?: string) => Client;
let contactsAs: (tenantId: string) => Client;
let companiesAs: (tenantId: string) => Client;
let feed: Client;
let salesAs: (group: 'catalog' | 'deals' | 'leads') => Client;
let moveLinks: typeof import('../../shared/activities/service.ts').moveLinks;
const tenant = uniqueTenant('act');

beforeAll(async () => {
  await useFreshTable();
  const activitiesHandler = (await import('./activities.ts')).handler;
  const contactsHandler = (await import('./contacts.ts')).handler;
  const companiesHandler = (await import('./companies.ts')).handler;
  const feedHandler = (await import('./calendar-feed.ts')).handler;
  const sales = {
    catalog: (await import('./catalog.ts')).handler,
    deals: (await import('./deals.ts')).handler,
    leads: (await import('./leads.ts')).handler,
  };
  salesAs = (group) => apiClient(sales[group], { tenantId: tenant, roles: ['admin'], userId: 'admin-1' });
  moveLinks = (await import('../../shared/activities/service.ts')).moveLinks;
  activitiesAs = (tenantId, roles = ['sales'], userId = 'rep-1') =>
    apiClient(activitiesHandler, { tenantId, roles, userId });
  contactsAs = (tenantId) => apiClient(contactsHandler, { tenantId, roles: ['admin'], userId: 'admin-1' });
  companiesAs = (tenantId) => apiClient(companiesHandler, { tenantId, roles: ['admin'], userId: 'admin-1' });
  // The feed is public: the claims the client adds are ignored by the handler.
  feed = apiClient(feedHandler, { tenantId: 'ignored', roles: [] });
});

const fieldsOf = (res: TestResponse) => ((res.body?.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);
const idsOf = (res: TestResponse) => (res.body.items as Array<{ id: string }>).map((a) => a.id);
const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

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

async function create(client: Client, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return client('POST', '/v1/activities', { body, headers });
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

describe('activities: create, get and the timelines of linked records', () => {
  it('logs a call linked to a contact and a company, shown on both timelines', async () => {
    const [contactId, companyId] = [await newContact(), await newCompany()];
    const rep = activitiesAs(tenant);
    const res = await create(rep, {
      type: 'call',
      subject: 'Intro call',
      direction: 'outbound',
      durationSeconds: 420,
      outcome: 'connected',
      links: [
        { type: 'contact', id: contactId },
        { type: 'company', id: companyId },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      type: 'call',
      subject: 'Intro call',
      direction: 'outbound',
      durationSeconds: 420,
      outcome: 'connected',
      ownerId: 'rep-1',
      version: 1,
    });
    expect(res.body.occurredAt).toBe(res.body.createdAt);
    expect(res.headers.location).toBe(`/v1/activities/${res.body.id}`);
    expect(res.headers.etag).toBe('"1"');
    for (const hidden of ['tenantId', 'activityId', 'gsi1pk', 'gsi4pk', 'gsi5sk', 'pk']) {
      expect(res.body).not.toHaveProperty(hidden);
    }
    const got = await rep('GET', `/v1/activities/${res.body.id}`);
    expect(got.body).toEqual(res.body);

    for (const path of [`/v1/contacts/${contactId}/timeline`, `/v1/companies/${companyId}/timeline`]) {
      const client = path.startsWith('/v1/contacts') ? contactsAs(tenant) : companiesAs(tenant);
      const timeline = await client('GET', path);
      const entry = (timeline.body.items as Array<Record<string, unknown>>).find((e) => e.id === res.body.id);
      expect(entry, path).toMatchObject({
        type: 'activity',
        occurredAt: res.body.occurredAt,
        data: { id: res.body.id, type: 'call', subject: 'Intro call', outcome: 'connected', direction: 'outbound' },
      });
    }
  });

  it('defaults: a meeting is scheduled and happens at its start; a task is open, normal, the caller’s; an email sent now', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const links = [{ type: 'contact', id: contactId }];
    const meeting = await create(rep, {
      type: 'meeting',
      subject: 'Demo',
      startAt: '2031-03-01T10:00:00+01:00',
      endAt: '2031-03-01T11:00:00+01:00',
      attendees: [{ email: 'ada@example.com', name: 'Ada', contactId }],
      location: 'Room 1',
      links,
    });
    expect(meeting.status, JSON.stringify(meeting.body)).toBe(201);
    expect(meeting.body).toMatchObject({
      status: 'scheduled',
      startAt: '2031-03-01T09:00:00.000Z',
      occurredAt: '2031-03-01T09:00:00.000Z',
    });
    const task = await create(rep, { type: 'task', title: 'Send quote', links });
    expect(task.body).toMatchObject({ status: 'open', priority: 'normal', assigneeId: 'rep-1', ownerId: 'rep-1' });
    const email = await create(rep, {
      type: 'email',
      subject: 'Quote',
      direction: 'outbound',
      from: 'rep@example.com',
      to: ['ada@example.com'],
      body: 'Hello',
      links,
    });
    expect(email.status, JSON.stringify(email.body)).toBe(201);
    expect(email.body.sentAt).toBe(email.body.occurredAt);
  });

  it('refuses bad input with field errors and stores nothing', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const links = [{ type: 'contact', id: contactId }];
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'call', direction: 'outbound', links: [] }, 'body.links'],
      [{ type: 'call', links }, 'body.direction'],
      [{ type: 'fax', links }, 'body.type'],
      [{ type: 'meeting', startAt: '2031-01-01T10:00:00Z', endAt: '2031-01-01T09:00:00Z', links }, 'body.endAt'],
      [{ type: 'task', title: 'x', reminderOffsetMinutes: 10, links }, 'body.reminderOffsetMinutes'],
      [{ type: 'task', title: 'x', dueAt: 'tomorrow', links }, 'body.dueAt'],
      [{ type: 'task', title: 'x', links, outcome: 'connected' }, 'body'],
      [{ type: 'call', direction: 'outbound', links: [...links, ...links] }, 'body.links'],
      [{ type: 'call', direction: 'outbound', links: [{ type: 'ticket', id: 'x' }] }, 'body.links.0.type'],
    ];
    for (const [body, field] of cases) {
      const res = await create(rep, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        fieldsOf(res).some((f) => f.startsWith(field)),
        `${JSON.stringify(res.body)} names ${field}`,
      ).toBe(true);
    }
    const listed = await rep('GET', `/v1/activities?contactId=${contactId}`);
    expect(listed.body.items).toEqual([]);
  });

  it('refuses a link to a contact or company that does not exist (or is in the trash), in the same transaction', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const missing = await create(rep, {
      type: 'call',
      direction: 'inbound',
      links: [
        { type: 'contact', id: contactId },
        { type: 'company', id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
      ],
    });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('activity.link_not_found');
    expect(fieldsOf(missing)).toEqual(['body.links.1.id']);
    const timeline = await contactsAs(tenant)('GET', `/v1/contacts/${contactId}/timeline`);
    expect(timeline.body.items).toEqual([]);

    await contactsAs(tenant)('DELETE', `/v1/contacts/${contactId}`);
    const trashed = await create(rep, {
      type: 'call',
      direction: 'inbound',
      links: [{ type: 'contact', id: contactId }],
    });
    expect(trashed.status).toBe(400);
  });

  it('links deals and leads too: shown on their timelines; an unknown one is refused and nothing is written', async () => {
    const stages = [
      { id: 'open', name: 'Open' },
      { id: 'won', name: 'Won', kind: 'won' },
      { id: 'lost', name: 'Lost', kind: 'lost' },
    ];
    expect((await salesAs('catalog')('POST', '/v1/pipelines', { body: { name: 'Sales', stages } })).status).toBe(201);
    const deal = await salesAs('deals')('POST', '/v1/deals', { body: { name: 'Pilot', currency: 'EUR', amount: 1 } });
    const lead = await salesAs('leads')('POST', '/v1/leads', { body: { firstName: 'Lin', emails: ['lin@x.example'] } });
    expect([deal.status, lead.status]).toEqual([201, 201]);
    const rep = activitiesAs(tenant);
    const meeting = await create(rep, {
      type: 'meeting',
      subject: 'Demo',
      startAt: inHours(24),
      endAt: inHours(25),
      links: [
        { type: 'deal', id: deal.body.id },
        { type: 'lead', id: lead.body.id },
      ],
    });
    expect(meeting.status, JSON.stringify(meeting.body)).toBe(201);
    for (const path of [`/v1/deals/${deal.body.id}/timeline`, `/v1/leads/${lead.body.id}/timeline`]) {
      const timeline = await salesAs(path.startsWith('/v1/deals') ? 'deals' : 'leads')('GET', path);
      expect(timeline.status).toBe(200);
      const entry = (timeline.body.items as Array<Record<string, unknown>>).find((e) => e.id === meeting.body.id);
      expect(entry, path).toMatchObject({ type: 'activity', data: { type: 'meeting', subject: 'Demo' } });
    }
    for (const type of ['deal', 'lead']) {
      const missing = await create(rep, {
        type: 'call',
        direction: 'inbound',
        subject: `Ghost ${type}`,
        links: [{ type, id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }],
      });
      expect(missing.status).toBe(400);
      expect(missing.body.code).toBe('activity.link_not_found');
      expect(fieldsOf(missing)).toEqual(['body.links.0.id']);
    }
    const mine = await rep('GET', '/v1/activities?type=call&limit=100');
    expect((mine.body.items as Array<{ subject?: string }>).filter((a) => a.subject?.startsWith('Ghost'))).toEqual([]);
  });

  it('replays a create with the same Idempotency-Key', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const body = { type: 'call', direction: 'inbound', links: [{ type: 'contact', id: contactId }] };
    const first = await create(rep, body, { 'idempotency-key': `k-${contactId}` });
    const again = await create(rep, body, { 'idempotency-key': `k-${contactId}` });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(await all(rep, `/v1/activities?contactId=${contactId}`)).toEqual([first.body.id]);
  });

  it("keeps tenants apart: another tenant's activity is not found, and its contacts cannot be linked", async () => {
    const other = uniqueTenant('act-other');
    const contactId = await newContact();
    const mine = await create(activitiesAs(tenant), {
      type: 'call',
      direction: 'inbound',
      links: [{ type: 'contact', id: contactId }],
    });
    const stranger = activitiesAs(other, ['admin'], 'rep-1');
    expect((await stranger('GET', `/v1/activities/${mine.body.id}`)).status).toBe(404);
    expect((await stranger('PATCH', `/v1/activities/${mine.body.id}`, { body: { subject: 'x' } })).status).toBe(404);
    expect((await stranger('DELETE', `/v1/activities/${mine.body.id}`)).status).toBe(404);
    expect((await stranger('GET', `/v1/activities?contactId=${contactId}`)).body.items).toEqual([]);
    const linked = await create(stranger, {
      type: 'call',
      direction: 'inbound',
      links: [{ type: 'contact', id: contactId }],
    });
    expect(linked.status).toBe(400);
    // A cursor of this tenant's list is refused in another's.
    await create(activitiesAs(tenant), { type: 'task', title: 'a', links: [{ type: 'contact', id: contactId }] });
    await create(activitiesAs(tenant), { type: 'task', title: 'b', links: [{ type: 'contact', id: contactId }] });
    const page = await activitiesAs(tenant)('GET', '/v1/activities?type=task&limit=1');
    expect(page.body.nextCursor).toBeTruthy();
    const forged = await stranger('GET', `/v1/activities?type=task&limit=1&cursor=${page.body.nextCursor}`);
    expect(forged.status).toBe(400);
    expect(fieldsOf(forged)).toEqual(['query.cursor']);
  });
});

describe('activities: update, complete, delete', () => {
  it('patches with If-Match, re-validates the result as its type, and refuses fields of other types', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const meeting = await create(rep, {
      type: 'meeting',
      startAt: '2031-01-01T10:00:00Z',
      endAt: '2031-01-01T11:00:00Z',
      location: 'Room 1',
      links: [{ type: 'contact', id: contactId }],
    });
    const id = meeting.body.id;
    const stale = await rep('PATCH', `/v1/activities/${id}`, {
      body: { status: 'held' },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    const held = await rep('PATCH', `/v1/activities/${id}`, {
      body: { status: 'held', location: null },
      headers: { 'if-match': '"1"' },
    });
    expect(held.status, JSON.stringify(held.body)).toBe(200);
    expect(held.body).toMatchObject({ status: 'held', version: 2 });
    expect(held.body).not.toHaveProperty('location');
    const backwards = await rep('PATCH', `/v1/activities/${id}`, { body: { endAt: '2030-12-31T00:00:00Z' } });
    expect(backwards.status).toBe(400);
    expect(fieldsOf(backwards)).toEqual(['body.endAt']);
    const wrongStatus = await rep('PATCH', `/v1/activities/${id}`, { body: { status: 'completed' } });
    expect(wrongStatus.status).toBe(400);
    const foreign = await rep('PATCH', `/v1/activities/${id}`, { body: { dueAt: '2031-01-01T00:00:00Z' } });
    expect(foreign.status).toBe(400);
    expect(fieldsOf(foreign)).toEqual(['body.dueAt']);
    const unchanged = await rep('PATCH', `/v1/activities/${id}`, { body: { status: 'held' } });
    expect(unchanged.body.version).toBe(2);
  });

  it("lets owners and assignees edit; someone else's needs activities:moderate", async () => {
    const contactId = await newContact();
    const task = await create(activitiesAs(tenant, ['sales'], 'boss-rep'), {
      type: 'task',
      title: 'Call back',
      assigneeId: 'rep-2',
      links: [{ type: 'contact', id: contactId }],
    });
    const id = task.body.id;
    const outsider = await activitiesAs(tenant, ['sales'], 'rep-3')('PATCH', `/v1/activities/${id}`, {
      body: { priority: 'high' },
    });
    expect(outsider.status).toBe(403);
    const assignee = await activitiesAs(tenant, ['sales'], 'rep-2')('PATCH', `/v1/activities/${id}`, {
      body: { priority: 'high' },
    });
    expect(assignee.status).toBe(200);
    const manager = await activitiesAs(tenant, ['manager'], 'mgr-1')('PATCH', `/v1/activities/${id}`, {
      body: { priority: 'low' },
    });
    expect(manager.status).toBe(200);
    const reader = await activitiesAs(tenant, ['readonly'], 'rep-2')('PATCH', `/v1/activities/${id}`, {
      body: { priority: 'low' },
    });
    expect(reader.status).toBe(403);
  });

  it('completes a task once (completedAt; idempotent), refuses to complete a call, and re-arms a reminder on reschedule', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const links = [{ type: 'contact', id: contactId }];
    const task = await create(rep, { type: 'task', title: 'Follow up', dueAt: inHours(2), links });
    const done = await rep('POST', `/v1/activities/${task.body.id}/complete`, { headers: { 'if-match': '"1"' } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', version: 2 });
    expect(Date.parse(done.body.completedAt)).toBeGreaterThan(0);
    const again = await rep('POST', `/v1/activities/${task.body.id}/complete`);
    expect(again.body).toEqual(done.body);
    const reopened = await rep('PATCH', `/v1/activities/${task.body.id}`, { body: { status: 'open' } });
    expect(reopened.body.status).toBe('open');
    expect(reopened.body).not.toHaveProperty('completedAt');

    const call = await create(rep, { type: 'call', direction: 'inbound', links });
    const refused = await rep('POST', `/v1/activities/${call.body.id}/complete`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('activity.not_a_task');
  });

  it('deletes: gone from get, lists and the timeline', async () => {
    const contactId = await newContact();
    const rep = activitiesAs(tenant);
    const task = await create(rep, {
      type: 'task',
      title: 'Bye',
      dueAt: inHours(1),
      links: [{ type: 'contact', id: contactId }],
    });
    const id = task.body.id;
    expect((await rep('DELETE', `/v1/activities/${id}`, { headers: { 'if-match': '"2"' } })).status).toBe(412);
    expect((await rep('DELETE', `/v1/activities/${id}`, { headers: { 'if-match': '"1"' } })).status).toBe(204);
    expect((await rep('GET', `/v1/activities/${id}`)).status).toBe(404);
    expect((await rep('DELETE', `/v1/activities/${id}`)).status).toBe(404);
    expect(await all(rep, `/v1/activities?contactId=${contactId}`)).toEqual([]);
    expect(await all(rep, '/v1/me/agenda', 100)).not.toContain(id);
    const timeline = await contactsAs(tenant)('GET', `/v1/contacts/${contactId}/timeline`);
    expect(timeline.body.items).toEqual([]);
  });

  it('moves links between records on a change of links: the old timeline loses it, the new one gains it', async () => {
    const [a, b] = [await newContact(), await newContact()];
    const rep = activitiesAs(tenant);
    const call = await create(rep, { type: 'call', direction: 'inbound', links: [{ type: 'contact', id: a }] });
    const moved = await rep('PATCH', `/v1/activities/${call.body.id}`, {
      body: { links: [{ type: 'contact', id: b }] },
    });
    expect(moved.status).toBe(200);
    expect(await all(rep, `/v1/activities?contactId=${a}`)).toEqual([]);
    expect(await all(rep, `/v1/activities?contactId=${b}`)).toEqual([call.body.id]);
  });
});

describe('activities: lists and the agenda', () => {
  it("lists an owner's open tasks and scheduled meetings soonest first, by type newest first, by linked record", async () => {
    const t = uniqueTenant('act-lists');
    const contactId = await newContact(t);
    const rep = activitiesAs(t, ['sales'], 'lister');
    const links = [{ type: 'contact', id: contactId }];
    const later = await create(rep, { type: 'task', title: 'later', dueAt: inHours(5), links });
    const sooner = await create(rep, { type: 'task', title: 'sooner', dueAt: inHours(1), links });
    const meeting = await create(rep, {
      type: 'meeting',
      startAt: inHours(3),
      endAt: inHours(4),
      links,
    });
    const done = await create(rep, { type: 'task', title: 'done', dueAt: inHours(2), status: 'completed', links });
    const call = await create(rep, { type: 'call', direction: 'inbound', links });
    const ids = (r: TestResponse) => r.body.id as string;

    expect(await all(rep, '/v1/activities?ownerId=lister')).toEqual([ids(sooner), ids(meeting), ids(later)]);
    expect(await all(rep, '/v1/activities')).toEqual([ids(sooner), ids(meeting), ids(later)]);
    expect(await all(rep, '/v1/activities?type=task')).toEqual([ids(done), ids(sooner), ids(later)]);
    // The timeline's order: the meeting happens in the future (its start), the rest when they were logged.
    expect(await all(rep, `/v1/activities?contactId=${contactId}`)).toEqual([
      ids(meeting),
      ids(call),
      ids(done),
      ids(sooner),
      ids(later),
    ]);
    const summaries = await rep('GET', `/v1/activities?contactId=${contactId}&limit=100`);
    expect(summaries.body.items.find((s: { id: string }) => s.id === ids(done))).toMatchObject({
      type: 'task',
      title: 'done',
      status: 'completed',
      ownerId: 'lister',
    });
    const twoFilters = await rep('GET', '/v1/activities?type=task&ownerId=lister');
    expect(twoFilters.status).toBe(400);
  });

  it('shows the agenda overdue first, then by due or start time, to the assignee only, up to `until`', async () => {
    const t = uniqueTenant('act-agenda');
    const contactId = await newContact(t);
    const me = activitiesAs(t, ['sales'], 'me');
    const boss = activitiesAs(t, ['manager'], 'boss');
    const links = [{ type: 'contact', id: contactId }];
    const overdue = await create(me, { type: 'task', title: 'overdue', dueAt: inHours(-30), links });
    const undated = await create(me, { type: 'task', title: 'someday', links });
    const soon = await create(boss, { type: 'task', title: 'for me', dueAt: inHours(1), assigneeId: 'me', links });
    const meeting = await create(me, { type: 'meeting', startAt: inHours(2), endAt: inHours(3), links });
    const nextWeek = await create(me, { type: 'task', title: 'next week', dueAt: inHours(24 * 7), links });
    await create(me, { type: 'task', title: 'not mine', dueAt: inHours(1), assigneeId: 'boss', links });
    const cancelled = await create(me, {
      type: 'meeting',
      startAt: inHours(2),
      endAt: inHours(3),
      status: 'cancelled',
      links,
    });
    const id = (r: TestResponse) => r.body.id as string;
    expect(await all(me, '/v1/me/agenda')).toEqual([id(overdue), id(soon), id(meeting), id(nextWeek), id(undated)]);
    expect(await all(me, `/v1/me/agenda?until=${encodeURIComponent(inHours(48))}`)).toEqual([
      id(overdue),
      id(soon),
      id(meeting),
    ]);
    expect(await all(me, '/v1/me/agenda')).not.toContain(id(cancelled));
    // Completing takes it off the agenda.
    await me('POST', `/v1/activities/${id(soon)}/complete`);
    expect(await all(me, '/v1/me/agenda')).toEqual([id(overdue), id(meeting), id(nextWeek), id(undated)]);
    // A cursor from a wider agenda is outside a narrower `until`.
    const first = await me('GET', '/v1/me/agenda?limit=3');
    const narrower = await me(
      'GET',
      `/v1/me/agenda?until=${encodeURIComponent(inHours(1))}&cursor=${first.body.nextCursor}`,
    );
    expect(narrower.status).toBe(400);
    expect((await me('GET', '/v1/me/agenda?until=soon')).status).toBe(400);
  });
});

describe('iCalendar feed', () => {
  it('creates a secret URL whose feed holds meetings as VEVENTs and tasks as VTODOs, parseable by ical.js', async () => {
    const t = uniqueTenant('act-feed');
    const contactId = await newContact(t);
    const me = activitiesAs(t, ['sales'], 'cal-user');
    const links = [{ type: 'contact', id: contactId }];
    const meeting = await create(me, {
      type: 'meeting',
      subject: 'Review; budget, Q3 \\ plan',
      notes: 'Line one\nLine two — with ünïcödé and a long tail '.repeat(3),
      startAt: inHours(24),
      endAt: inHours(25),
      location: 'HQ, room 4',
      links,
    });
    const task = await create(me, { type: 'task', title: 'Prepare deck', dueAt: inHours(20), priority: 'high', links });
    await create(me, { type: 'task', title: 'Too far', dueAt: inHours(24 * 120), links });
    await create(me, { type: 'task', title: 'No date', links });

    const created = await me('POST', '/v1/me/calendar-feed');
    expect(created.status).toBe(201);
    const { token, path } = created.body;
    expect(token.startsWith(`${t}.`)).toBe(true);
    expect(path).toBe(`/v1/calendar-feeds/${token}.ics`);

    const res = await feed('GET', path);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(res.headers.etag).toMatch(/^"[\w-]{27}"$/);
    expect(res.text.endsWith('\r\n')).toBe(true);
    for (const line of res.text.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);

    const calendar = new ICAL.Component(ICAL.parse(res.text));
    const events = calendar.getAllSubcomponents('vevent');
    const todos = calendar.getAllSubcomponents('vtodo');
    expect(events).toHaveLength(1);
    expect(todos).toHaveLength(1);
    const event = new ICAL.Event(events[0]!);
    expect(event.uid).toBe(`${meeting.body.id}@activities.crm`);
    expect(event.summary).toBe('Review; budget, Q3 \\ plan');
    expect(event.location).toBe('HQ, room 4');
    expect(event.description.startsWith('Line one\nLine two — with ünïcödé')).toBe(true);
    // iCalendar times have whole seconds.
    const seconds = (iso: string) => new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString();
    expect(event.startDate.toJSDate().toISOString()).toBe(seconds(meeting.body.startAt));
    expect(event.endDate.toJSDate().toISOString()).toBe(seconds(meeting.body.endAt));
    expect(events[0]!.getFirstPropertyValue('status')).toBe('CONFIRMED');
    const todo = todos[0]!;
    expect(todo.getFirstPropertyValue('summary')).toBe('Prepare deck');
    expect(todo.getFirstPropertyValue('priority')).toBe(1);
    expect(todo.getFirstPropertyValue('status')).toBe('NEEDS-ACTION');
    expect((todo.getFirstPropertyValue('due') as ICAL.Time).toJSDate().toISOString()).toBe(seconds(task.body.dueAt));

    // Completing the task changes the feed (and its ETag); the unsuffixed path works too.
    await me('POST', `/v1/activities/${task.body.id}/complete`);
    const after = await feed('GET', `/v1/calendar-feeds/${token}`);
    expect(after.text).toContain('STATUS:COMPLETED');
    expect(after.headers.etag).not.toBe(res.headers.etag);
  });

  it('answers 404 alike for rotated, revoked, unknown and malformed secrets', async () => {
    const t = uniqueTenant('act-feed2');
    const me = activitiesAs(t, ['sales'], 'cal-user');
    const first = (await me('POST', '/v1/me/calendar-feed')).body.token as string;
    const second = (await me('POST', '/v1/me/calendar-feed')).body.token as string;
    expect(second).not.toBe(first);
    expect((await feed('GET', `/v1/calendar-feeds/${first}`)).status).toBe(404);
    expect((await feed('GET', `/v1/calendar-feeds/${second}`)).status).toBe(200);
    const someoneElse = `${t}.${Buffer.from('other').toString('base64url')}.${second.split('.')[2]}`;
    const tampered = `${second.slice(0, -1)}${second.endsWith('A') ? 'B' : 'A'}`;
    expect((await me('DELETE', '/v1/me/calendar-feed')).status).toBe(204);
    const probes = [second, someoneElse, tampered, 'nope', `x.y.${'z'.repeat(43)}`, `${'a'.repeat(65)}.b.c`];
    const answers = await Promise.all(probes.map((p) => feed('GET', `/v1/calendar-feeds/${encodeURIComponent(p)}`)));
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ code: 'calendar_feed.not_found' });
    }
    expect(new Set(answers.map((a) => a.body.detail)).size).toBe(1);
  });
});

describe('moveLinks (merges)', () => {
  it('re-points every activity linked to one contact onto another, with its attendees and timelines; idempotent', async () => {
    const t = uniqueTenant('act-move');
    const [loser, winner, company] = [await newContact(t), await newContact(t), await newCompany(t)];
    const rep = activitiesAs(t, ['sales'], 'mover');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(rep, {
        type: 'meeting',
        startAt: inHours(i + 1),
        endAt: inHours(i + 2),
        attendees: [{ email: 'ada@example.com', contactId: loser }],
        links: [
          { type: 'contact', id: loser },
          { type: 'company', id: company },
        ],
      });
      ids.push(res.body.id);
    }
    const both = await create(rep, {
      type: 'call',
      direction: 'inbound',
      links: [
        { type: 'contact', id: loser },
        { type: 'contact', id: winner },
      ],
    });
    expect(await moveLinks(t, { type: 'contact', id: loser }, { type: 'contact', id: winner })).toBe(4);
    expect(await all(rep, `/v1/activities?contactId=${loser}`)).toEqual([]);
    expect((await all(rep, `/v1/activities?contactId=${winner}`)).sort()).toEqual([...ids, both.body.id].sort());
    expect((await all(rep, `/v1/activities?companyId=${company}`)).sort()).toEqual([...ids].sort());
    const meeting = await rep('GET', `/v1/activities/${ids[0]}`);
    expect(meeting.body.links).toEqual([
      { type: 'contact', id: winner },
      { type: 'company', id: company },
    ]);
    expect(meeting.body.attendees).toEqual([{ email: 'ada@example.com', contactId: winner }]);
    const call = await rep('GET', `/v1/activities/${both.body.id}`);
    expect(call.body.links).toEqual([{ type: 'contact', id: winner }]);
    expect(await moveLinks(t, { type: 'contact', id: loser }, { type: 'contact', id: winner })).toBe(0);
  });
});

describe('iCalendar feed quota', () => {
  it("counts valid secrets against the tenant's request quota (429), and guesses not at all", async () => {
    const { readCalendarFeed, createCalendarFeed } = await import('../../shared/calendar/service.ts');
    const { TenantQuota } = await import('../../shared/quota/quota.ts');
    const { TooManyRequestsError, DomainError } = await import('../../shared/errors.ts');
    const t = uniqueTenant('act-quota');
    // Made without a request, so no other request has leased from this tenant's quota window.
    const { token } = await createCalendarFeed({ tenantId: t, userId: 'cal-user', roles: ['sales'] });
    // Two requests per 60-second window, leased from the table as the API's quota is.
    const quota = new TenantQuota({ ratePerSecond: 2 / 60, windowSeconds: 60, leaseSize: 1 });
    const guess = `${t}.${Buffer.from('cal-user').toString('base64url')}.${'A'.repeat(43)}`;
    for (let i = 0; i < 5; i++) await expect(readCalendarFeed(guess, quota)).rejects.toBeInstanceOf(DomainError);
    await readCalendarFeed(token, quota);
    await readCalendarFeed(token, quota);
    await expect(readCalendarFeed(token, quota)).rejects.toBeInstanceOf(TooManyRequestsError);
  });
});

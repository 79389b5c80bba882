/**
 * Property-based fuzzing of the activity endpoints, the agenda and the public calendar feed: no malformed input gets
 * a 5xx or changes stored data. Handlers are called with API Gateway payload-v2 events against DynamoDB Local.
 * fast-check prints the seed and the shrunk counterexample of a failure; replay it with `{ seed, path }`.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ACTIVITY_TYPES, Activity } from '../shared/activities/schema.ts';
import { makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Json = Record<string, unknown>;

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
vi.setConfig({ testTimeout: 90_000 * Math.max(1, SCALE) });

const tenant = uniqueTenant('fuzz-act');
let activities: Client;
let feed: Client;
let contactId: string;
let feedToken: string;

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('../functions/http/activities.ts')).handler;
  const contacts = (await import('../functions/http/contacts.ts')).handler;
  const feedHandler = (await import('../functions/http/calendar-feed.ts')).handler;
  activities = apiClient(handler, { tenantId: tenant, roles: ['sales'], userId: 'fuzzer' });
  feed = apiClient(feedHandler, { tenantId: 'ignored', roles: [] });
  const contact = await apiClient(contacts, { tenantId: tenant, roles: ['admin'] })('POST', '/v1/contacts', {
    body: makeContact(),
  });
  contactId = contact.body.id;
  feedToken = (await activities('POST', '/v1/me/calendar-feed')).body.token;
});

const NASTY = ['', ' ', '\u0000', '\n', '\r\n', '#', '%', '\\', '"', '__proto__', '\ud800', '👩‍👩‍👧', 'x'.repeat(300)];
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const instant = fc.oneof(
  fc
    .date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom('2031-02-30T10:00:00Z', 'tomorrow', '2031-01-01', '2031-01-01T10:00:00', '+275760-09-13T00:00:00Z'),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  instant,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
);
const FIELDS = [
  'type',
  'subject',
  'notes',
  'ownerId',
  'occurredAt',
  'links',
  'direction',
  'durationSeconds',
  'outcome',
  'startAt',
  'endAt',
  'attendees',
  'location',
  'status',
  'from',
  'to',
  'body',
  'sentAt',
  'title',
  'dueAt',
  'reminderOffsetMinutes',
  'priority',
  'assigneeId',
  'completedAt',
  'id',
  'version',
];

/** A valid body of each type, the starting point of mutations. */
const valid = (): Record<string, Json> => ({
  call: { type: 'call', direction: 'outbound', outcome: 'connected', links: [{ type: 'contact', id: contactId }] },
  meeting: {
    type: 'meeting',
    startAt: '2031-01-01T10:00:00Z',
    endAt: '2031-01-01T11:00:00Z',
    attendees: [{ email: 'a@example.com' }],
    links: [{ type: 'contact', id: contactId }],
  },
  email: {
    type: 'email',
    direction: 'inbound',
    from: 'a@example.com',
    to: ['b@example.com'],
    links: [{ type: 'contact', id: contactId }],
  },
  task: { type: 'task', title: 'x', dueAt: '2031-01-01T10:00:00Z', links: [{ type: 'contact', id: contactId }] },
});

const mutation = fc.record({
  base: fc.constantFrom(...ACTIVITY_TYPES),
  set: fc.array(fc.tuple(fc.constantFrom(...FIELDS), anyValue), { maxLength: 3 }),
  drop: fc.array(fc.constantFrom(...FIELDS), { maxLength: 2 }),
  links: fc.option(
    fc.array(
      fc.record({
        type: fc.oneof(fc.constantFrom('contact', 'company', 'deal', 'lead'), nastyString),
        id: nastyString,
      }),
      {
        maxLength: 22,
      },
    ),
  ),
});

function mutate(m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): Json {
  const body: Json = { ...valid()[m.base] };
  for (const field of m.drop) delete body[field];
  for (const [field, value] of m.set) body[field] = value;
  if (m.links) body.links = m.links;
  return body;
}

/** Lone surrogates cannot be percent-encoded; what a client could send has them replaced. */
const wellFormed = (text: string) =>
  text.replace(/[\ud800-\udfff]/g, (c, i: number, all: string) => {
    const code = c.charCodeAt(0);
    const pair = code < 0xdc00 ? all.charCodeAt(i + 1) : all.charCodeAt(i - 1);
    return (code < 0xdc00 ? pair >= 0xdc00 && pair <= 0xdfff : pair >= 0xd800 && pair < 0xdc00) ? c : '\ufffd';
  });

const expectNoServerError = (res: TestResponse, what: unknown) =>
  expect(res.status, `${JSON.stringify(what)} -> ${JSON.stringify(res.body)}`).toBeLessThan(500);

async function linkedCount(): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const res: TestResponse = await activities(
      'GET',
      `/v1/activities?contactId=${contactId}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    count += res.body.items.length;
    cursor = res.body.nextCursor;
  } while (cursor);
  return count;
}

describe('fuzzing activities', () => {
  it('creates: never a 5xx; what is accepted is a valid Activity, what is refused stores nothing', async () => {
    let created = await linkedCount();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const body = mutate(m);
        const res = await activities('POST', '/v1/activities', { body });
        expectNoServerError(res, body);
        if (res.status === 201) {
          accepted++;
          expect(Activity.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
          if ((res.body.links as Array<{ id: string }>).some((l) => l.id === contactId)) created++;
        } else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.headers['content-type']).toBe('application/problem+json');
        }
      }),
      { numRuns: runs(150) },
    );
    // Both sides were exercised: some mutations stay valid, most do not.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(runs(150));
    expect(await linkedCount()).toBe(created);
  });

  it('patches: never a 5xx; a refused patch leaves the activity as it was', async () => {
    const targets: Record<string, { id: string }> = {};
    for (const type of ACTIVITY_TYPES) {
      targets[type] = (await activities('POST', '/v1/activities', { body: valid()[type] })).body;
    }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ACTIVITY_TYPES),
        fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 3 }),
        fc.constantFrom(undefined, '"1"', '*', 'W/"1"', 'garbage'),
        async (type, patch, ifMatch) => {
          const id = targets[type]!.id;
          const before = await activities('GET', `/v1/activities/${id}`);
          const res = await activities('PATCH', `/v1/activities/${id}`, {
            body: patch,
            ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}),
          });
          expectNoServerError(res, patch);
          if (res.status >= 400) expect((await activities('GET', `/v1/activities/${id}`)).body).toEqual(before.body);
          else expect(Activity.safeParse(res.body).success).toBe(true);
        },
      ),
      { numRuns: runs(100) },
    );
  });

  it('lists, the agenda, path ids and feed secrets: never a 5xx', async () => {
    const param = fc.tuple(
      fc.constantFrom('ownerId', 'type', 'contactId', 'companyId', 'dealId', 'leadId', 'limit', 'cursor', 'until', 'x'),
      nastyString,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 3 }), fc.boolean(), async (params, agenda) => {
        const query = new URLSearchParams(params).toString();
        const res = await activities('GET', `${agenda ? '/v1/me/agenda' : '/v1/activities'}?${query}`);
        expectNoServerError(res, query);
      }),
      { numRuns: runs(100) },
    );
    await fc.assert(
      fc.asyncProperty(nastyString, fc.constantFrom('GET', 'PATCH', 'DELETE', 'POST'), async (id, method) => {
        const path = `/v1/activities/${encodeURIComponent(wellFormed(id)) || 'x'}${method === 'POST' ? '/complete' : ''}`;
        const res = await activities(method, path, method === 'PATCH' ? { body: { subject: 'x' } } : {});
        expectNoServerError(res, path);
      }),
      { numRuns: runs(100) },
    );
    const secret = fc.oneof(
      nastyString,
      fc.tuple(fc.constantFrom(tenant, 'other', 'a'.repeat(70)), nastyString, nastyString).map((p) => p.join('.')),
      fc.nat(feedToken.length).map((i) => feedToken.slice(0, i)),
      fc.nat(feedToken.length - 1).map((i) => `${feedToken.slice(0, i)}A${feedToken.slice(i + 1)}`),
    );
    await fc.assert(
      fc.asyncProperty(secret, async (token) => {
        const res = await feed('GET', `/v1/calendar-feeds/${encodeURIComponent(wellFormed(token)) || 'x'}`);
        expectNoServerError(res, token);
        if (token !== feedToken) expect([400, 404]).toContain(res.status);
      }),
      { numRuns: runs(100) },
    );
  });
});

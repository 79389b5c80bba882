/**
 * Property-based fuzzing of the ticket endpoints (create, patch, views, by number, the thread): no malformed input
 * gets a 5xx or changes stored data, and a refused create uses no ticket number. Handlers are called with API Gateway
 * payload-v2 events against DynamoDB Local. fast-check prints the seed and the shrunk counterexample of a failure.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Ticket, TicketMessagePosted } from '../shared/tickets/schema.ts';
import { makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Json = Record<string, unknown>;

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
vi.setConfig({ testTimeout: 240_000 * Math.max(1, SCALE) });

const tenant = uniqueTenant('fuzz-tix');
let tickets: Client;
let requesterId: string;

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('../functions/http/tickets.ts')).handler;
  const contacts = (await import('../functions/http/contacts.ts')).handler;
  tickets = apiClient(handler, { tenantId: tenant, roles: ['support'], userId: 'fuzzer' });
  const contact = await apiClient(contacts, { tenantId: tenant, roles: ['admin'] })('POST', '/v1/contacts', {
    body: makeContact(),
  });
  requesterId = contact.body.id;
});

const NASTY = ['', ' ', '\u0000', '\n', '#', '%', '\\', '"', '__proto__', '\ud800', '👩‍👩‍👧', 'T-0', 'x'.repeat(300)];
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom('new', 'open', 'pending', 'on_hold', 'solved', 'closed', 'urgent', 'low', 'email', 'phone'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
);
const FIELDS = [
  'subject',
  'description',
  'status',
  'priority',
  'channel',
  'requesterId',
  'companyId',
  'assigneeId',
  'teamId',
  'tags',
  'category',
  'customFields',
  'number',
  'seq',
  'id',
  'version',
];

const valid = (): Json => ({ subject: 'Help', requesterId, priority: 'high', channel: 'web', tags: ['a'] });

const mutation = fc.record({
  set: fc.array(fc.tuple(fc.constantFrom(...FIELDS), anyValue), { maxLength: 3 }),
  drop: fc.array(fc.constantFrom(...FIELDS), { maxLength: 2 }),
});

/** Lone surrogates cannot be percent-encoded; what a client could send has them replaced. */
const wellFormed = (text: string) => text.replace(/[\ud800-\udfff]/g, '\ufffd');

const expectNoServerError = (res: TestResponse, what: unknown) =>
  expect(res.status, `${JSON.stringify(what)} -> ${JSON.stringify(res.body)}`).toBeLessThan(500);

async function allTickets(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: TestResponse = await tickets('GET', `/v1/tickets?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...res.body.items.map((t: { id: string }) => t.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

describe('fuzzing tickets', () => {
  it('creates: never a 5xx; accepted ones are valid Tickets numbered without gaps, refused ones store nothing', async () => {
    const before = (await allTickets()).length;
    const numbers: number[] = [];
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const body: Json = valid();
        for (const field of m.drop) delete body[field];
        for (const [field, value] of m.set) body[field] = value;
        const res = await tickets('POST', '/v1/tickets', { body });
        expectNoServerError(res, body);
        if (res.status === 201) {
          expect(Ticket.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
          numbers.push(res.body.seq);
        } else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.headers['content-type']).toBe('application/problem+json');
        }
      }),
      { numRuns: runs(150) },
    );
    expect(numbers.length).toBeGreaterThan(0);
    expect(numbers.length).toBeLessThan(runs(150));
    expect(numbers).toEqual(numbers.map((_, i) => 1001 + before + i));
    expect((await allTickets()).length).toBe(before + numbers.length);
  });

  it('patches and messages: never a 5xx; a refused one leaves the ticket as it was', async () => {
    const target = (await tickets('POST', '/v1/tickets', { body: valid() })).body;
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 3 }),
        fc.constantFrom(undefined, '"1"', '*', 'W/"1"', 'garbage'),
        async (patch, ifMatch) => {
          const before = await tickets('GET', `/v1/tickets/${target.id}`);
          const res = await tickets('PATCH', `/v1/tickets/${target.id}`, {
            // Never close it: a closed ticket refuses everything after, which would end the run early.
            body: patch.status === 'closed' ? { ...patch, status: 'open' } : patch,
            ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}),
          });
          expectNoServerError(res, patch);
          if (res.status >= 400) expect((await tickets('GET', `/v1/tickets/${target.id}`)).body).toEqual(before.body);
          else expect(Ticket.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
        },
      ),
      { numRuns: runs(100) },
    );
    const MESSAGE_FIELDS = ['visibility', 'authorType', 'bodyText', 'bodyHtml', 'status', 'attachmentIds', 'id'];
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...MESSAGE_FIELDS), anyValue, { maxKeys: 4 }), async (body) => {
        const safe = body.status === 'closed' ? { ...body, status: 'open' } : body;
        const before = await tickets('GET', `/v1/tickets/${target.id}`);
        const res = await tickets('POST', `/v1/tickets/${target.id}/messages`, { body: safe });
        expectNoServerError(res, safe);
        if (res.status === 201) expect(TicketMessagePosted.safeParse(res.body).success).toBe(true);
        else expect((await tickets('GET', `/v1/tickets/${target.id}`)).body).toEqual(before.body);
      }),
      { numRuns: runs(100) },
    );
  });

  it('email replies: never a 5xx; accepted ones are queued public replies, refused ones leave the ticket as it was', async () => {
    const target = (await tickets('POST', '/v1/tickets', { body: valid() })).body;
    // A mail ticket's mailbox (the email-in part sets it from the mail): set directly here.
    const { model } = await import('../shared/db/store.ts');
    const { putMailboxForTests } = await import('./support/mailboxes.ts');
    await putMailboxForTests(tenant, { id: 'mbx-fuzz', address: 'support@fuzz.test' });
    await model.entities.ticket.patch({ tenantId: tenant, ticketId: target.id }).set({ mailboxId: 'mbx-fuzz' }).go();
    const REPLY_FIELDS = ['bodyText', 'bodyHtml', 'cc', 'attachmentIds', 'status', 'subject', 'to'];
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...REPLY_FIELDS), anyValue, { maxKeys: 4 }),
        fc.boolean(),
        async (fields, withText) => {
          const body: Json = { ...(withText ? { bodyText: 'Thanks' } : {}), ...fields };
          const safe = body.status === 'closed' ? { ...body, status: 'open' } : body;
          const before = await tickets('GET', `/v1/tickets/${target.id}`);
          const res = await tickets('POST', `/v1/tickets/${target.id}/replies`, { body: safe });
          expectNoServerError(res, safe);
          if (res.status === 201) {
            accepted++;
            expect(TicketMessagePosted.safeParse(res.body).success).toBe(true);
            expect(res.body.message.delivery).toEqual({ status: 'queued' });
          } else {
            expect(res.headers['content-type']).toBe('application/problem+json');
            expect((await tickets('GET', `/v1/tickets/${target.id}`)).body).toEqual(before.body);
          }
        },
      ),
      { numRuns: runs(100) },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('views, numbers and path ids: never a 5xx', async () => {
    const param = fc.tuple(
      fc.constantFrom('status', 'assigneeId', 'teamId', 'priority', 'inTrash', 'updatedSince', 'limit', 'cursor', 'x'),
      nastyString,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 3 }), async (params) => {
        const query = new URLSearchParams(params.map(([k, v]) => [k, wellFormed(v)] as [string, string])).toString();
        expectNoServerError(await tickets('GET', `/v1/tickets?${query}`), query);
      }),
      { numRuns: runs(100) },
    );
    await fc.assert(
      fc.asyncProperty(
        nastyString,
        fc.constantFrom('GET', 'PATCH', 'DELETE', 'NUMBER', 'MESSAGES', 'POST_MESSAGE'),
        async (id, kind) => {
          const segment = encodeURIComponent(wellFormed(id)) || 'x';
          const [method, path, options] =
            kind === 'NUMBER'
              ? ['GET', `/v1/tickets/by-number/${segment}`, {}]
              : kind === 'MESSAGES'
                ? ['GET', `/v1/tickets/${segment}/messages`, {}]
                : kind === 'POST_MESSAGE'
                  ? ['POST', `/v1/tickets/${segment}/messages`, { body: { bodyText: 'x' } }]
                  : [kind, `/v1/tickets/${segment}`, kind === 'PATCH' ? { body: { subject: 'x' } } : {}];
          const res = await tickets(method, path, options);
          expectNoServerError(res, path);
          expect([400, 403, 404]).toContain(res.status);
        },
      ),
      { numRuns: runs(100) },
    );
  });
});

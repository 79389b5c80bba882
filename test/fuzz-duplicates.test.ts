/**
 * Property-based fuzzing of merges and the duplicates endpoints: no malformed input gets a 5xx or changes stored
 * data, and a valid merge with any field choices keeps every value the request kept. Handlers are called with API
 * Gateway payload-v2 events against DynamoDB Local, as in test/fuzz.test.ts. Runs stay modest (2 cores).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ContactPatch } from '../shared/contacts/schema.ts';
import { makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 120_000 * Math.max(1, SCALE) });

const tenant = uniqueTenant('fuzzdup');
let contacts: Client;
let merge: Client;
let duplicates: Client;

beforeAll(async () => {
  await useFreshTable();
  const caller = { tenantId: tenant, roles: ['admin'], userId: 'fuzzer' };
  contacts = apiClient((await import('../functions/http/contacts.ts')).handler, caller);
  merge = apiClient((await import('../functions/http/merge.ts')).handler, caller);
  duplicates = apiClient((await import('../functions/http/duplicates.ts')).handler, caller);
});

const NASTY = [
  '',
  ' ',
  '\u0000',
  '#',
  '..',
  '/',
  '%2F',
  '__proto__',
  'constructor',
  '\ud800',
  '👩‍👩‍👧',
  'a'.repeat(65),
];
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const anyJson = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  nastyString,
  fc.array(nastyString, { maxLength: 3 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
);
const FIELDS = Object.keys(ContactPatch.shape);

async function contactWith(overrides: Record<string, unknown> = {}): Promise<{ id: string; version: number }> {
  const res = await contacts('POST', '/v1/contacts', { body: makeContact({ phones: [], ...overrides }) });
  expect(res.status).toBe(201);
  return res.body;
}

const snapshot = async (ids: string[]) =>
  Promise.all(ids.map(async (id) => (await contacts('GET', `/v1/contacts/${id}`)).body));

describe('POST /v1/contacts/merge with malformed input', () => {
  it('answers 4xx problem+json, never 5xx, and changes neither record', async () => {
    const a = await contactWith();
    const b = await contactWith();
    const before = await snapshot([a.id, b.id]);
    const id = fc.oneof(fc.constantFrom(a.id, b.id), nastyString);
    const body = fc.oneof(
      anyJson,
      fc.record(
        {
          winnerId: fc.oneof(id, anyJson),
          loserId: fc.oneof(id, anyJson),
          fields: fc.oneof(
            anyJson,
            fc.dictionary(
              fc.oneof(fc.constantFrom(...FIELDS), nastyString),
              fc.oneof(fc.constantFrom('winner', 'loser'), anyJson),
              {
                maxKeys: 4,
              },
            ),
          ),
          extra: anyJson,
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (input) => {
        // A well-formed merge of the two is not malformed input: leave it to the property below.
        const i = input as Record<string, unknown> | null;
        const valid =
          i !== null &&
          typeof i === 'object' &&
          !('extra' in i) &&
          [a.id, b.id].includes(i.winnerId as string) &&
          [a.id, b.id].includes(i.loserId as string) &&
          i.winnerId !== i.loserId &&
          (i.fields === undefined ||
            (typeof i.fields === 'object' &&
              i.fields !== null &&
              Object.entries(i.fields).every(([k, v]) => FIELDS.includes(k) && (v === 'winner' || v === 'loser'))));
        fc.pre(!valid);
        const res: TestResponse = await merge('POST', '/v1/contacts/merge', { body: input });
        expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        expect(res.headers['content-type']).toBe('application/problem+json');
      }),
      { numRuns: runs(150) },
    );
    expect(await snapshot([a.id, b.id])).toEqual(before);
  });
});

describe('POST /v1/contacts/merge with valid input', () => {
  it('keeps every value the request kept, whatever the field choices', async () => {
    const emails = fc.uniqueArray(fc.constantFrom('a@x.example', 'b@x.example', 'c@x.example', 'd@x.example'), {
      maxLength: 4,
    });
    const scalar = fc.option(fc.constantFrom('Ada', 'Grace', 'Alan'), { nil: undefined });
    const side = fc.constantFrom('winner' as const, 'loser' as const);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          emails,
          firstName: scalar,
          jobTitle: scalar,
          tags: fc.uniqueArray(fc.constantFrom('x', 'y', 'z')),
        }),
        fc.record({
          emails,
          firstName: scalar,
          jobTitle: scalar,
          tags: fc.uniqueArray(fc.constantFrom('x', 'y', 'z')),
        }),
        fc.record({ firstName: side, jobTitle: side, emails: side }, { requiredKeys: [] }),
        async (w, l, fields) => {
          const clean = (r: Record<string, unknown>) =>
            ({ ...r, firstName: r.firstName ?? 'Someone', lastName: 'Fuzz' }) as Record<string, unknown>;
          const winner = await contactWith(clean(w));
          const loser = await contactWith(clean(l));
          const res = await merge('POST', '/v1/contacts/merge', {
            body: { winnerId: winner.id, loserId: loser.id, fields },
          });
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          const stored = (await contacts('GET', `/v1/contacts/${winner.id}`)).body;
          expect(stored).toEqual(res.body);
          for (const email of [...w.emails, ...l.emails]) expect(stored.emails).toContain(email);
          for (const tag of [...w.tags, ...l.tags]) expect(stored.tags).toContain(tag);
          const of = (s: 'winner' | 'loser') => clean(s === 'winner' ? w : l);
          if (fields.firstName) expect(stored.firstName).toBe(of(fields.firstName).firstName);
          if (fields.jobTitle) expect(stored.jobTitle).toBe(of(fields.jobTitle).jobTitle);
          else expect(stored.jobTitle).toBe(w.jobTitle ?? l.jobTitle);
          if (fields.emails === 'loser' && l.emails.length > 0) expect(stored.emails[0]).toBe(l.emails[0]);
          expect((await contacts('GET', `/v1/contacts/${loser.id}`)).status).toBe(301);
        },
      ),
      { numRuns: runs(25) },
    );
  });
});

describe('GET /v1/duplicates and dismiss with malformed input', () => {
  it('answers 4xx, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            entity: fc.oneof(fc.constantFrom('contact', 'company'), nastyString),
            limit: nastyString,
            cursor: nastyString,
          },
          { requiredKeys: [] },
        ),
        nastyString,
        async (query, pairId) => {
          fc.pre(pairId !== ''); // an empty segment is another route (API Gateway would answer 404 itself)
          fc.pre(!/\p{Cs}/u.test(pairId)); // a lone surrogate cannot be put in a URL at all
          const qs = new URLSearchParams(query as Record<string, string>).toString();
          const list = await duplicates('GET', `/v1/duplicates?${qs}`);
          expect(list.status, JSON.stringify(list.body)).toBeLessThan(500);
          const dismissed = await duplicates('POST', `/v1/duplicates/${encodeURIComponent(pairId)}/dismiss`);
          expect(dismissed.status, JSON.stringify(dismissed.body)).toBeGreaterThanOrEqual(400);
          expect(dismissed.status).toBeLessThan(500);
        },
      ),
      { numRuns: runs(150) },
    );
  });
});

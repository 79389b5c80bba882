/**
 * Property-based fuzzing of the assignment endpoints and the geolocation inputs (a contact's or company's
 * `location`, `?near=&radiusKm=` and near-list cursors): no malformed input gets a 5xx or changes stored data.
 * Handlers are called with API Gateway payload-v2 events against DynamoDB Local. Runs are kept modest.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';
import { availableMembers, putTeam } from './support/teams.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

type Client = ReturnType<typeof apiClient>;
let assignment: Client;
let contacts: Client;
let companies: Client;
const T = uniqueTenant('fuzz-asg');

const VALID_RULE = { id: 'uk', entities: ['contact'], teamId: 'team', method: 'roundRobin' };

beforeAll(async () => {
  await useFreshTable('fuzz-assignment');
  const caller = { tenantId: T, roles: ['admin'], userId: 'admin-1' };
  assignment = apiClient((await import('../functions/http/assignment.ts')).handler, caller);
  contacts = apiClient((await import('../functions/http/contacts.ts')).handler, caller);
  companies = apiClient((await import('../functions/http/companies.ts')).handler, caller);
  await putTeam(T, 'team', availableMembers(3));
  const put = await assignment('PUT', '/v1/assignment-rules', { body: { rules: [VALID_RULE] } });
  expect(put.status).toBe(200);
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', 'Infinity', '-0', '1e400', '９０', '\ud800', 'null'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

/** A valid rule with one field replaced (or removed, or an extra one added). */
const mutatedRule = fc.oneof(
  fc
    .record({
      field: fc.constantFrom('id', 'name', 'entities', 'conditions', 'teamId', 'method', 'active', 'extra'),
      value: nasty,
    })
    .map(({ field, value }) => ({ ...VALID_RULE, [field]: value })),
  fc
    .record({
      condition: fc.constantFrom('countries', 'regions', 'postalCodePrefixes', 'sources', 'territory'),
      value: fc.oneof(nasty, fc.array(nasty, { maxLength: 4 })),
    })
    .map(({ condition, value }) => ({ ...VALID_RULE, conditions: { [condition]: value } })),
  nasty,
);

describe('assignment rules fuzzing', () => {
  it('never answers a malformed rule set with a 5xx, and a refused one changes nothing', async () => {
    const before = (await assignment('GET', '/v1/assignment-rules')).body;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(mutatedRule, { minLength: 1, maxLength: 3 }).map((rules) => ({ rules })),
          nasty.map((rules) => ({ rules })),
          nasty,
        ),
        async (body) => {
          const res = await assignment('PUT', '/v1/assignment-rules', { body });
          noServerError(res, body);
          if (res.status === 200) {
            accepted += 1;
            // Put the known rules back, so every refused body is compared against the same stored state.
            const restored = await assignment('PUT', '/v1/assignment-rules', { body: { rules: [VALID_RULE] } });
            expect(restored.status).toBe(200);
          } else {
            const now = (await assignment('GET', '/v1/assignment-rules')).body;
            expect(now.rules).toEqual(before.rules);
          }
        },
      ),
      { numRuns: runs(120) },
    );
    expect(accepted).toBeLessThan(runs(120));
  });

  it('never answers a malformed preview query with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('entity', 'country', 'region', 'postalCode', 'source', 'x'),
          fc.string({ maxLength: 120 }),
          { maxKeys: 4 },
        ),
        async (query) => {
          const res = await assignment('GET', `/v1/assignment-rules/preview?${new URLSearchParams(query)}`);
          noServerError(res, query);
        },
      ),
      { numRuns: runs(80) },
    );
  });
});

const coordinate = fc.oneof(
  fc.double({ min: -200, max: 200, noNaN: true }),
  fc.constantFrom(90, -90, 180, -180, 90.0000001, -180.0000001, 0, -0),
  fc.double(),
  nasty,
);

/** Any generated value as query text (objects as JSON, so null-prototype dictionaries print too). */
const text = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'));

describe('geolocation fuzzing', () => {
  it('never answers a malformed location with a 5xx; only valid ones create records', async () => {
    let created = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ lat: coordinate, lon: coordinate }),
          fc.record({ lat: coordinate }),
          nasty,
          fc.record({ lat: coordinate, lon: coordinate, alt: nasty }),
        ),
        fc.constantFrom('contact', 'company'),
        async (location, kind) => {
          const client = kind === 'contact' ? contacts : companies;
          const body = kind === 'contact' ? makeContact({ location }) : makeCompany({ location });
          const res = await client('POST', kind === 'contact' ? '/v1/contacts' : '/v1/companies', { body });
          noServerError(res, location);
          if (res.status === 201) {
            created += 1;
            const { lat, lon } = location as { lat: number; lon: number };
            expect(Math.abs(lat)).toBeLessThanOrEqual(90);
            expect(Math.abs(lon)).toBeLessThanOrEqual(180);
            expect(Math.abs(res.body.location.lat - lat)).toBeLessThanOrEqual(5e-10);
            expect(Math.abs(res.body.location.lon - lon)).toBeLessThanOrEqual(5e-10);
          }
        },
      ),
      { numRuns: runs(120) },
    );
    // Every record created is found near its own point; refused ones left nothing behind.
    const all = await contacts('GET', '/v1/contacts?limit=100');
    const allCompanies = await companies('GET', '/v1/companies?limit=100');
    expect(all.body.items.length + allCompanies.body.items.length).toBe(created);
  });

  it('never answers malformed near, radiusKm or cursor values with a 5xx', async () => {
    const valid = await contacts('GET', '/v1/contacts?near=51.5,-0.12&radiusKm=500&limit=1');
    const realCursor = valid.body.nextCursor ?? '';
    const cursor = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constant(realCursor),
      fc.string({ maxLength: 4 }).map((s) => `${realCursor}${s}`),
      fc.record({ cell: nasty, key: nasty }).map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')),
      fc
        .record({ cell: fc.constantFrom('gcp', 'u', 'gcpvj', ''), key: fc.string({ maxLength: 40 }) })
        .map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(coordinate, coordinate).map(([a, b]) => `${text(a)},${text(b)}`),
          fc.string({ maxLength: 30 }),
        ),
        fc.oneof(fc.double({ min: -10, max: 1000, noNaN: true }).map(String), fc.string({ maxLength: 10 })),
        fc.option(cursor, { nil: undefined }),
        fc.constantFrom('contacts', 'companies'),
        async (near, radiusKm, c, list) => {
          const query = new URLSearchParams({ near, radiusKm, ...(c === undefined ? {} : { cursor: c }) });
          const res = await (list === 'contacts' ? contacts : companies)('GET', `/v1/${list}?${query}`);
          noServerError(res, { near, radiusKm, c });
        },
      ),
      { numRuns: runs(150) },
    );
  });
});

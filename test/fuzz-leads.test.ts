/**
 * Property-based fuzzing of leads, conversion, scoring rules, form definitions and the public form endpoints: no
 * malformed input gets a 5xx, and an input that is refused changes no stored data. Handlers are called with API
 * Gateway payload-v2 events against DynamoDB Local. fast-check prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCompany, makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
vi.setConfig({ testTimeout: 90_000 * Math.max(1, SCALE) });

const T = uniqueTenant('fuzzlead');
const ORIGIN = 'https://www.example.com';
let leads: Client;
let forms: Client;
let contacts: Client;
let companies: Client;
let publicApi: Client;

beforeAll(async () => {
  await useFreshTable();
  const caller = { tenantId: T, roles: ['admin'], userId: 'fuzzer' };
  leads = apiClient((await import('../functions/http/leads.ts')).handler, caller);
  forms = apiClient((await import('../functions/http/forms.ts')).handler, caller);
  contacts = apiClient((await import('../functions/http/contacts.ts')).handler, caller);
  companies = apiClient((await import('../functions/http/companies.ts')).handler, caller);
  publicApi = apiClient((await import('../functions/http/form-submissions.ts')).handler, { tenantId: 'x', roles: [] });
});

function expectNo5xx(res: TestResponse, context: string) {
  expect(res.status, `${context} -> ${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(typeof res.body.code).toBe('string');
  }
}

const NASTY = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '😀',
  'ﷺ'.repeat(120),
  '#',
  '%zz',
  '__proto__',
  'constructor',
  'x'.repeat(201),
  'x'.repeat(5001),
  'a@b',
  'A@EXAMPLE.COM',
  '+4930123456',
  '12',
  'DE',
  'software',
  'converted',
  'disqualified',
  'form',
  '11-50',
  'https://x.example',
  'javascript:alert(1)',
  '1e400',
  '-0',
];
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 12 }),
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  {
    weight: 2,
    arbitrary: fc.dictionary(fc.constantFrom(...NASTY, 'name', 'country', 'source'), scalar, { maxKeys: 3 }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const LEAD_KEYS = [
  'firstName',
  'lastName',
  'emails',
  'phones',
  'title',
  'company',
  'source',
  'utm',
  'status',
  'disqualifiedReason',
  'ownerId',
  'tags',
  'customFields',
  'score',
  'convertedContactId',
  'id',
  'version',
  '__proto__',
];
/** A lead body: mostly plausible values, some junk, some unknown keys. */
const leadBody = fc.dictionary(
  fc.constantFrom(...LEAD_KEYS),
  fc.oneof(
    { weight: 3, arbitrary: junk },
    {
      weight: 2,
      arbitrary: fc.constantFrom<unknown>(
        'Ada',
        ['a@b.co'],
        ['+44 20 7946 0018'],
        { name: 'Co', address: { country: 'de' } },
        { industry: null },
        'form',
        'working',
        { source: 'ads' },
        ['vip'],
      ),
    },
  ),
  { maxKeys: 6 },
);

async function leadSnapshot(id: string) {
  return (await leads('GET', `/v1/leads/${id}`)).body;
}

async function leadCount(): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const res: TestResponse = await leads('GET', `/v1/leads?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    count += res.body.items.length;
    cursor = res.body.nextCursor;
  } while (cursor);
  return count;
}

describe('fuzz: leads', () => {
  it('creates: never a 5xx; a refused body stores nothing', async () => {
    let created = 0;
    const before = await leadCount();
    await fc.assert(
      fc.asyncProperty(leadBody, async (body) => {
        const res = await leads('POST', '/v1/leads', { body });
        expectNo5xx(res, `POST ${JSON.stringify(body)}`);
        if (res.status === 201) {
          created += 1;
          expect(await leadSnapshot(res.body.id)).toEqual(res.body);
          expect(res.body.status).not.toBe('converted');
        }
      }),
      { numRuns: runs(150) },
    );
    expect(await leadCount()).toBe(before + created);
  });

  it('patches: never a 5xx; a refused patch changes nothing', async () => {
    const lead = (await leads('POST', '/v1/leads', { body: { firstName: 'Fuzz', emails: ['fuzz@example.com'] } })).body;
    await fc.assert(
      fc.asyncProperty(
        leadBody,
        fc.option(fc.constantFrom('"1"', '*', 'W/"1"', '"x"', '', '"99"')),
        async (body, ifMatch) => {
          const before = await leadSnapshot(lead.id);
          const res = await leads('PATCH', `/v1/leads/${lead.id}`, {
            body,
            ...(ifMatch === null ? {} : { headers: { 'if-match': ifMatch } }),
          });
          expectNo5xx(res, `PATCH ${JSON.stringify(body)} if-match ${ifMatch}`);
          if (res.status >= 400) expect(await leadSnapshot(lead.id)).toEqual(before);
        },
      ),
      { numRuns: runs(120) },
    );
  });

  it('lists: never a 5xx for any query', async () => {
    const keys = [
      'limit',
      'cursor',
      'ownerId',
      'status',
      'source',
      'tag',
      'email',
      'q',
      'updatedSince',
      'inTrash',
      'x',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom(...keys),
          fc.constantFrom(...NASTY, '5', '0', '101', 'true', '2020-01-01T00:00:00Z', 'eyJwayI6IngifQ'),
        ),
        async (query) => {
          const qs = new URLSearchParams(query as Record<string, string>).toString();
          expectNo5xx(await leads('GET', `/v1/leads?${qs}`), `GET ?${qs}`);
        },
      ),
      { numRuns: runs(150) },
    );
  });

  it('converts: never a 5xx; a refused conversion changes neither the lead nor creates records', async () => {
    const contact = (await contacts('POST', '/v1/contacts', { body: makeContact() })).body;
    const company = (await companies('POST', '/v1/companies', { body: makeCompany() })).body;
    const convertBody = fc.dictionary(
      fc.constantFrom('contact', 'company', 'deal', 'lead', 'x'),
      fc.oneof(
        junk,
        fc.constantFrom<unknown>(
          { id: contact.id },
          { id: company.id },
          { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' },
          { create: true },
          { create: false },
          'none',
          { name: 'Deal', amount: 100, currency: 'EUR' },
          { name: 'Deal', amount: -1 },
        ),
      ),
      { maxKeys: 3 },
    );
    await fc.assert(
      fc.asyncProperty(convertBody, async (body) => {
        const lead = (
          await leads('POST', '/v1/leads', {
            body: { firstName: 'Conv', company: { name: 'Co' }, emails: [`c${Date.now()}@x.co`] },
          })
        ).body;
        const res = await leads('POST', `/v1/leads/${lead.id}/convert`, { body });
        expectNo5xx(res, `convert ${JSON.stringify(body)}`);
        const after = await leadSnapshot(lead.id);
        if (res.status >= 400) {
          expect(after).toEqual(lead);
          const byEmail = await contacts('GET', `/v1/contacts?email=${encodeURIComponent(lead.emails[0])}`);
          expect(byEmail.body.items).toEqual([]);
        } else {
          expect(after.status).toBe('converted');
        }
      }),
      { numRuns: runs(60) },
    );
  });

  it('scoring rules: never a 5xx; refused rules leave the stored ones as they were', async () => {
    const rule = fc.dictionary(
      fc.constantFrom('id', 'kind', 'field', 'condition', 'points', 'event', 'where', 'halfLifeDays', 'x'),
      fc.oneof(
        junk,
        fc.constantFrom<unknown>(
          'fit',
          'engagement',
          'r1',
          'company.industry',
          { op: 'equals', value: 'software' },
          { op: 'in', values: [] },
          { op: 'exists' },
          10,
          1001,
          'form.submitted',
          { 'record.type': 'meeting' },
          30,
          0,
        ),
      ),
      { maxKeys: 7 },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.record({ rules: fc.array(rule, { maxLength: 3 }) }), junk), async (body) => {
        const before = (await leads('GET', '/v1/scoring-rules')).body;
        const res = await leads('PUT', '/v1/scoring-rules', { body });
        expectNo5xx(res, `PUT rules ${JSON.stringify(body)}`);
        if (res.status >= 400) expect((await leads('GET', '/v1/scoring-rules')).body).toEqual(before);
      }),
      { numRuns: runs(120) },
    );
  });
});

describe('fuzz: forms and the public endpoints', () => {
  it('form definitions: never a 5xx', async () => {
    const formBody = fc.dictionary(
      fc.constantFrom('name', 'fields', 'allowedOrigins', 'honeypotField', 'doubleOptIn', 'redirectUrl', 'tags', 'x'),
      fc.oneof(
        junk,
        fc.constantFrom<unknown>(
          'Form',
          [{ name: 'email', mapsTo: 'email' }],
          [{ name: 'a', type: 'select' }],
          [ORIGIN],
          ['https://x.example/path'],
          'website',
          { enabled: true, subject: 's', text: '{{link}}' },
          'https://x.example/thanks',
        ),
      ),
      { maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(formBody, async (body) => {
        const res = await forms('POST', '/v1/forms', { body });
        expectNo5xx(res, `POST form ${JSON.stringify(body)}`);
      }),
      { numRuns: runs(120) },
    );
  });

  it('submissions: never a 5xx for any key, body, content type or origin; refused ones create no lead', async () => {
    const form = (
      await forms('POST', '/v1/forms', {
        body: {
          name: 'Fuzz form',
          fields: [
            { name: 'name', mapsTo: 'firstName' },
            { name: 'email', type: 'email', mapsTo: 'email' },
            { name: 'country', mapsTo: 'company.address.country' },
            { name: 'size', mapsTo: 'company.size' },
            { name: 'phone', mapsTo: 'phone' },
            { name: 'pick', type: 'select', options: ['a', 'b'], required: false },
          ],
          allowedOrigins: [ORIGIN],
          honeypotField: 'website',
        },
      })
    ).body;
    const keys = fc.constantFrom(
      form.publicKey,
      form.id,
      `${T}.${form.id}x`,
      `other.${form.id}`,
      `${T}..${form.id}`,
      `${T}.`,
      '.x',
      `${T}#x.${form.id}`,
      'a'.repeat(131),
      '%2e%2e',
    );
    const values = fc.dictionary(
      fc.constantFrom(
        'name',
        'email',
        'country',
        'size',
        'phone',
        'pick',
        'website',
        'utm_source',
        'utm_x',
        '__proto__',
        'x',
      ),
      fc.oneof(
        junk,
        fc.constantFrom<unknown>('Ada', 'a@b.co', 'de', 'Germany', '11-50', '+4930123456', 'a', ['a', 'b']),
      ),
      { maxKeys: 6 },
    );
    const encodings = fc.constantFrom('json', 'form', 'raw');
    const origins = fc.constantFrom(ORIGIN, 'https://evil.example', 'null', '', `${ORIGIN}/`, undefined);
    const contentTypes = fc.constantFrom(
      'application/json',
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=utf-8',
      'text/plain',
      'multipart/form-data; boundary=x',
      '',
    );
    await fc.assert(
      fc.asyncProperty(
        keys,
        values,
        encodings,
        origins,
        contentTypes,
        async (key, body, encoding, origin, contentType) => {
          const before = await leadCount();
          const rawBody =
            encoding === 'json'
              ? JSON.stringify(body)
              : encoding === 'form'
                ? new URLSearchParams(
                    Object.entries(body as Record<string, unknown>).map(([k, v]): [string, string] => [
                      k,
                      typeof v === 'string' ? v : (JSON.stringify(v) ?? ''),
                    ]),
                  ).toString()
                : '%%%&&==\u0000';
          const headers: Record<string, string> = {
            'content-type': encoding === 'json' ? 'application/json' : contentType,
          };
          if (origin !== undefined) headers.origin = origin;
          const res = await publicApi('POST', `/v1/forms/${encodeURIComponent(key)}/submissions`, { rawBody, headers });
          expectNo5xx(res, `submit ${key} ${rawBody} ${JSON.stringify(headers)}`);
          if (res.status >= 400) expect(await leadCount()).toBe(before);
        },
      ),
      { numRuns: runs(150) },
    );
  });

  it('confirmation links: never a 5xx for any token', async () => {
    await fc.assert(
      fc.asyncProperty(
        // A URL path cannot carry a lone surrogate (encodeURIComponent refuses it), so those are left out.
        fc
          .oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 120 }), fc.constant(`${T}.${'A'.repeat(43)}`))
          .filter((t) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(t)),
        async (token) => {
          const res = await publicApi('GET', `/v1/forms/confirmations/${encodeURIComponent(token) || 'x'}`);
          expectNo5xx(res, `confirm ${token}`);
        },
      ),
      { numRuns: runs(100) },
    );
  });
});

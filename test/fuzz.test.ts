/**
 * Property-based fuzzing of the contact and company endpoints: no malformed input gets a 5xx or changes stored
 * data. Handlers are called with API Gateway payload-v2 events against DynamoDB Local (see support/http-event.ts).
 * fast-check prints the seed and the shrunk counterexample of a failure; replay it with `{ seed, path }`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COMPANY_SIZES, Company } from '../shared/companies/schema.ts';
import { Contact, LIFECYCLE_STAGES } from '../shared/contacts/schema.ts';
import { makeCompany, makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;
type Kind = 'contact' | 'company';
type Json = Record<string, unknown>;
type Request = { body?: unknown; rawBody?: string; headers?: Record<string, string> };

/** Runs per property: the whole file stays well under a minute on 2 cores. FUZZ_RUNS_SCALE=10 digs deeper. */
const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const RUNS = Object.fromEntries(
  Object.entries({ create: 200, patch: 150, list: 200, path: 200, headers: 150 }).map(([k, n]) => [
    k,
    Math.round(n * SCALE),
  ]),
) as Record<'create' | 'patch' | 'list' | 'path' | 'headers', number>;
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

const A = uniqueTenant('fuzz');
const B = uniqueTenant('other');
const H = uniqueTenant('hdr');
const S = uniqueTenant('size');

const api: Record<'A' | 'B' | 'H' | 'S', Record<Kind | 'customFields', Client>> = {} as never;

// ---------------------------------------------------------------------------------------------------------------
// Value arbitraries
// ---------------------------------------------------------------------------------------------------------------

/** JSON text inserted verbatim where a value goes (numbers JSON.stringify cannot write, deep nesting). */
class RawJson {
  constructor(readonly text: string) {}
  toJSON() {
    return `<raw ${this.text.slice(0, 40)}>`;
  }
}
const toJsonText = (value: unknown): string =>
  value instanceof RawJson
    ? value.text
    : Array.isArray(value)
      ? `[${value.map(toJsonText).join(',')}]`
      : value !== null && typeof value === 'object'
        ? `{${Object.entries(value)
            .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
            .join(',')}}`
        : (JSON.stringify(value) ?? 'null');
/** An object as JSON text from entries, so '__proto__' and duplicate keys reach the server as sent. */
const objectText = (entries: Array<[string, unknown]>) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\ud83d'];
const NASTY_PIECES = [
  '',
  ' ',
  '\u0000',
  '\u0007',
  '\n',
  '\r\n',
  '\t',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b',
  '\u200d',
  '\u202e',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '\ud83d\ude00',
  '👩‍👩‍👧',
  '\u{10ffff}',
  'ﷺ',
  'ﷻ',
  'İ',
  'ß',
  'ǅ',
  'e\u0301',
  '#',
  '##',
  '%',
  '%00',
  '%zz',
  '+',
  '&',
  '=',
  '?',
  '../',
  '/',
  '\\',
  '"',
  "'",
  '`',
  '<script>',
  '$' + '{x}',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x10',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'toString',
  '@',
  'a@b.co',
  '+4930123456',
  'gb',
  'ZZ',
  ' lead ',
  'LEAD',
  '11-50',
  '5001+',
  '2024-02-30',
  '2027-01-31',
  '~',
];
const LENGTHS = [
  2, 3, 39, 40, 41, 63, 64, 65, 99, 100, 101, 199, 200, 201, 253, 254, 255, 256, 1999, 2000, 2001, 2048, 2049, 5000,
  66_000, 70_000,
];

const piece = (surrogates: boolean) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_PIECES, ...(surrogates ? LONE_SURROGATES : [])) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) },
    { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
  );
const isWellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
const longString = (surrogates: boolean) =>
  fc
    .tuple(fc.constantFrom(...LENGTHS), fc.constantFrom('x', 'é', 'ﷺ', '😀', ' ', 'A1', '#', '\u0000', 'a@b.'))
    .map(([n, c]) => c.repeat(Math.ceil(n / c.length)).slice(0, n))
    .filter((s) => surrogates || isWellFormed(s));
const nastyString = (surrogates = true) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(piece(surrogates), { maxLength: 8 }).map((p) => p.join('')) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    { weight: 1, arbitrary: longString(surrogates) },
  );

const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '1e308',
  '5e-324',
  '1e126',
  '1e-131',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890123456789012',
  '-0',
  '0.1',
  '1E+2',
  '1.5',
];
const deepRaw = fc
  .tuple(fc.integer({ min: 2, max: 20_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => new RawJson(`${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`));

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(...RAW_NUMBERS).map((n) => new RawJson(n)),
  nastyString(),
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 5 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString(), scalar, { maxKeys: 4 }) },
  { weight: 1, arbitrary: deepRaw },
);
const DECLARED: Record<Kind, string[]> = {
  contact: ['tier', 'score', 'vip', 'renewal', 'note', 'regions'],
  company: ['segment', 'arr', 'public', 'founded'],
};

/** Characters repeated up to a field's limit: plain, accented, NFKD-expanding, astral, separator, NUL. */
const EDGE_CHARS = ['x', 'é', 'ﷺ', '😀', 'İ', '#', '\u0000', '株'];
/** Text the schema accepts (mostly): 1..max UTF-16 units, not blank, nasty contents; often right at the limit. */
const text = (max: number, min = 0) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .array(piece(true), { maxLength: 6 })
        .map((p) => p.join(''))
        .filter((t) => t.length <= max && t.trim().length >= min),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...EDGE_CHARS), fc.constantFrom(max, max - 1, Math.ceil(max / 2)))
        .map(([c, n]) => c.repeat(Math.ceil(n / c.length)).slice(0, n))
        .filter((t) => t.trim().length >= min),
    },
  );

const NUMBERS_DYNAMODB_DISLIKES = ['1e300', '5e-324', '1e126', '1e-131', '9007199254740993', '-1e20', '1e-400', '-0'];
/** Per declared custom field: values of its type (numbers across the whole double range). */
const validCustomValue: Record<string, fc.Arbitrary<unknown>> = {
  tier: fc.constantFrom('gold', 'silver'),
  score: fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(...NUMBERS_DYNAMODB_DISLIKES).map((n) => new RawJson(n)),
  ),
  vip: fc.boolean(),
  renewal: fc.constantFrom('2027-01-31', '2024-02-29', '0001-01-01'),
  note: text(2000),
  regions: fc.subarray(['emea', 'apac']),
  segment: fc.constantFrom('smb', 'enterprise'),
  arr: fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(...NUMBERS_DYNAMODB_DISLIKES).map((n) => new RawJson(n)),
  ),
  public: fc.boolean(),
  founded: fc.constantFrom('1999-12-31', '2024-02-29'),
};
const customFieldJunk = fc.oneof(
  fc.double(),
  fc.constantFrom(...RAW_NUMBERS).map((n) => new RawJson(n)),
  fc.boolean(),
  fc.constantFrom('gold', 'bronze', '2027-02-30', '31/01/2027', 'enterprise'),
  fc.array(fc.constantFrom('emea', 'apac', 'x'), { maxLength: 4 }),
  nastyString(),
  longString(true),
);
const customFields = (kind: Kind, valid: boolean) =>
  fc
    .array(
      valid
        ? fc
            .constantFrom(...DECLARED[kind])
            .chain((k) =>
              fc.oneof({ weight: 5, arbitrary: validCustomValue[k]! }, fc.constant(null)).map((v) => [k, v] as const),
            )
        : fc.tuple(
            fc.oneof(
              fc.constantFrom(...DECLARED[kind]),
              fc.constantFrom('undeclared', '__proto__', 'constructor', '1abc', 'a'.repeat(65), ''),
            ),
            customFieldJunk,
          ),
      { maxLength: 5 },
    )
    .map((entries) => new RawJson(objectText(entries as Array<[string, unknown]>)));

/** A valid address; in a merge patch any of its fields may be null (clears it). */
const validAddress = (patch: boolean) => {
  const clearable = (arb: fc.Arbitrary<unknown>) =>
    patch ? fc.oneof({ weight: 5, arbitrary: arb }, fc.constant(null)) : arb;
  return fc.record(
    {
      street: clearable(text(200)),
      city: clearable(fc.oneof(text(100), fc.constantFrom('London', 'Zürich', ''))),
      region: clearable(text(100)),
      postalCode: clearable(fc.oneof(text(20), fc.constantFrom('SW1A 1AA', '8001'))),
      country: clearable(fc.constantFrom('GB', 'de', 'FR', 'us')),
    },
    { requiredKeys: [] },
  );
};

interface Refs {
  /** Live companies of the tenant under test: valid references. */
  live: string[];
  /** Trashed, another tenant's, or missing: invalid references. */
  dead: string[];
}

interface FieldArbs {
  valid: fc.Arbitrary<unknown>;
  invalid: fc.Arbitrary<unknown>;
}

/** For every field of the real schema: values it accepts (edge cases included) and values it must refuse. */
function fieldArbs(kind: Kind, refs: Refs, patch: boolean): Record<string, FieldArbs> {
  const tagValid = text(64, 1).filter((t) => /^[^#\p{Cc}]+$/u.test(t));
  const shared: Record<string, FieldArbs> = {
    ownerId: {
      valid: fc.constantFrom('u1', 'u2', 'user_1-X', 'a'.repeat(64)),
      invalid: fc.constantFrom('a'.repeat(65), 'u#1', '', 'u 1', 'ü'),
    },
    tags: {
      valid: fc.array(fc.oneof(fc.constantFrom('VIP', 'vip', 'İstanbul', 'ǅ', 'partner'), tagValid), { maxLength: 20 }),
      invalid: fc.oneof(
        fc.array(fc.constantFrom('a#b', 'tab\t', ' ', '', 'x'.repeat(65)), { minLength: 1, maxLength: 3 }),
        fc.array(fc.constant('t'), { minLength: 21, maxLength: 25 }),
      ),
    },
    address: {
      valid: validAddress(patch),
      invalid: fc.oneof(
        fc.record({ country: fc.constantFrom('Germany', 'ZZZ', '', 'g1') }),
        fc.record({ street: fc.constant('x'.repeat(201)) }),
        fc.record({ planet: fc.constant('Mars') }),
      ),
    },
    customFields: { valid: customFields(kind, true), invalid: customFields(kind, false) },
  };
  if (kind === 'contact') {
    return {
      ...shared,
      firstName: { valid: text(100, 1), invalid: fc.constantFrom('', '   ', 'x'.repeat(101), '😀'.repeat(51)) },
      lastName: { valid: text(100, 1), invalid: fc.constantFrom('', '\t', 'ﷺ'.repeat(101)) },
      emails: {
        valid: fc.array(
          fc.constantFrom(
            'Ada@Example.COM',
            ' a@b.co ',
            'x.y+z@example.org',
            `${'a'.repeat(64)}@example.com`,
            "o'neil@example.ie",
          ),
          { maxLength: 10 },
        ),
        invalid: fc.oneof(
          fc.array(fc.constantFrom('a@b', '@b.co', 'a b@c.de', `${'a'.repeat(250)}@b.co`, 'ä@b.de'), {
            minLength: 1,
            maxLength: 2,
          }),
          fc.array(fc.constant('a@b.co'), { minLength: 11, maxLength: 12 }),
        ),
      },
      phones: {
        valid: fc.array(fc.constantFrom('+44 20 7946 0018', '+49 30 1234567', '+1 202-555-0143', '+33 1 23 45 67 89'), {
          maxLength: 10,
        }),
        invalid: fc.array(fc.constantFrom('12', '+', '+999 1234', 'phone', '1'.repeat(41)), {
          minLength: 1,
          maxLength: 3,
        }),
      },
      jobTitle: { valid: text(200), invalid: fc.constantFrom('x'.repeat(201)) },
      companyId: { valid: fc.constantFrom(...refs.live), invalid: fc.constantFrom(...refs.dead, '', 'a/b') },
      lifecycleStage: { valid: fc.constantFrom(...LIFECYCLE_STAGES), invalid: fc.constantFrom('Lead', 'hot', '') },
      consent: {
        valid: fc.record(
          {
            email: fc.constantFrom('granted', 'withdrawn', 'unknown', ...(patch ? [null] : [])),
            sms: fc.constantFrom('granted', 'withdrawn', ...(patch ? [null] : [])),
            phone: fc.constantFrom('unknown', 'granted'),
          },
          { requiredKeys: [] },
        ),
        invalid: fc.oneof(
          fc.record({ email: fc.constantFrom('GRANTED', 'yes', '') }),
          fc.record({ updatedAt: fc.constant('2020-01-01T00:00:00Z') }),
        ),
      },
    };
  }
  return {
    ...shared,
    name: { valid: text(200, 1), invalid: fc.constantFrom('', '   ', 'x'.repeat(201), ...(patch ? [null] : [])) },
    domains: {
      valid: fc.array(
        fc.oneof(
          fc.domain().filter((d) => /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d)),
          fc.constantFrom('https://www.Example.com/path', 'xn--bcher-kva.example', `${'a'.repeat(63)}.com`),
        ),
        { maxLength: 10 },
      ),
      invalid: fc.array(fc.constantFrom('localhost', 'a..b', 'ex ample.com', `${'a'.repeat(64)}.com`, 'é.com'), {
        minLength: 1,
        maxLength: 2,
      }),
    },
    industry: { valid: text(100), invalid: fc.constant('x'.repeat(101)) },
    size: { valid: fc.constantFrom(...COMPANY_SIZES), invalid: fc.constantFrom('1-11', '', '5001') },
    employeeCount: {
      valid: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constant(new RawJson('-0'))),
      invalid: fc.oneof(
        fc.constantFrom(-1, 1.5, 10_000_001),
        fc.constantFrom('1e7', '1e400', '9007199254740993').map((n) => new RawJson(n)),
      ),
    },
  };
}

/** A field's value: mostly one the schema accepts, sometimes one it refuses, sometimes anything; null in patches. */
const fieldValue = (arbs: FieldArbs, patch: boolean) =>
  fc.oneof(
    { weight: 20, arbitrary: arbs.valid },
    { weight: 1, arbitrary: arbs.invalid },
    { weight: 1, arbitrary: junk },
    { weight: patch ? 2 : 0, arbitrary: fc.constant(null) },
  );

const SNEAKY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'id',
  'contactId',
  'companyId',
  'tenantId',
  'version',
  'createdAt',
  'updatedAt',
  'createdBy',
  'deletedAt',
  'deletedBy',
  'sortName',
  'pk',
  'sk',
  'gsi4pk',
  'gsi4sk',
  '',
  ' firstName',
  'FirstName',
  'name\u0000',
];

/** A request body: mostly objects built from the real field names, plus anything at all. */
function bodyArb(kind: Kind, refs: Refs, patch: boolean): fc.Arbitrary<Request> {
  const arbs = fieldArbs(kind, refs, patch);
  const fields = Object.keys(arbs);
  const valueFor = (field: string) => fieldValue(arbs[field]!, patch);
  const entry = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom(...fields).chain((f) => valueFor(f).map((v) => [f, v] as [string, unknown])),
    },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SNEAKY_KEYS), junk) },
    { weight: 1, arbitrary: fc.tuple(nastyString(), junk) },
  );
  const plausible = fc
    .record(Object.fromEntries(fields.map((f) => [f, valueFor(f)])), {
      // A create needs a name (a contact: a name or an email); bodies without one come from `entry` below.
      requiredKeys: patch ? [] : kind === 'company' ? ['name'] : ['firstName'],
    })
    .map((o) => ({ rawBody: toJsonText(o) }));
  return fc.oneof(
    { weight: 10, arbitrary: plausible },
    { weight: 4, arbitrary: fc.array(entry, { maxLength: 8 }).map((e) => ({ rawBody: objectText(e) })) },
    { weight: 1, arbitrary: fc.anything().map((body) => ({ body })) },
    { weight: 1, arbitrary: fc.object({ key: nastyString(), maxDepth: 3 }).map((body) => ({ body })) },
    { weight: 1, arbitrary: fc.json().map((rawBody) => ({ rawBody })) },
    { weight: 1, arbitrary: nastyString().map((rawBody) => ({ rawBody })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(plausible, fc.nat())
        .map(([r, cut]) => ({ rawBody: r.rawBody.slice(0, cut % (r.rawBody.length + 1)) })),
    },
    { weight: 1, arbitrary: deepRaw.map((r) => ({ rawBody: r.text })) },
  );
}

/** Status counts per property, printed after it: a fuzzer that never reaches the write path proves little. */
function tally(name: string) {
  const counts = new Map<number, number>();
  return {
    add: (status: number) => counts.set(status, (counts.get(status) ?? 0) + 1),
    count: (status: number) => counts.get(status) ?? 0,
    print: () =>
      console.log(
        `${name}: ${[...counts.entries()]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
      ),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Response checks
// ---------------------------------------------------------------------------------------------------------------

const describeRequest = (what: string, req: unknown) => {
  const text = JSON.stringify(req, (_k, v) =>
    typeof v === 'string' && v.length > 300 ? `${v.slice(0, 300)}…(${v.length})` : v,
  );
  return `${what} ${text}`;
};

/** Never a 5xx; every refusal is problem+json with status, code and title; a 400 (or a too-large record) names its fields. */
function expectWellFormed(res: TestResponse, context: string): void {
  expect(res.status, `${context} -> ${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  if (res.status < 400) return;
  expect(res.headers['content-type'], context).toBe('application/problem+json');
  expect(res.body, context).toMatchObject({
    status: res.status,
    code: expect.any(String),
    title: expect.any(String),
  });
  if (res.status === 413) {
    // The body over 64 KiB, or the record it would make over its 64 KiB cap (then naming the largest fields).
    expect(['request.too_large', 'record.too_large'], context).toContain(res.body.code);
    if (res.body.code === 'record.too_large') {
      expect(res.body.fieldErrors.length, context).toBeGreaterThan(0);
      for (const error of res.body.fieldErrors) expect(error.field, context).toMatch(/^body\./);
    }
  }
  if (res.status === 400) {
    expect(Array.isArray(res.body.fieldErrors), context).toBe(true);
    expect(res.body.fieldErrors.length, context).toBeGreaterThan(0);
    for (const error of res.body.fieldErrors) {
      expect(error, context).toMatchObject({ field: expect.any(String), message: expect.any(String) });
    }
  }
}

const VIEW_KEYS: Record<Kind, Set<string>> = {
  contact: new Set(Object.keys(Contact.shape)),
  company: new Set(Object.keys(Company.shape)),
};
const pathOf = (kind: Kind) => (kind === 'contact' ? '/v1/contacts' : '/v1/companies');

/** A 201 is a real record: only API fields, version 1, and GET returns exactly what the create returned. */
async function expectRoundTrip(client: Client, kind: Kind, res: TestResponse, context: string): Promise<void> {
  expect(
    Object.keys(res.body).filter((k) => !VIEW_KEYS[kind].has(k)),
    context,
  ).toEqual([]);
  expect(res.body.version, context).toBe(1);
  expect(res.headers.etag, context).toBe('"1"');
  expect(res.headers.location, context).toBe(`${pathOf(kind)}/${res.body.id}`);
  const got = await client('GET', `${pathOf(kind)}/${encodeURIComponent(res.body.id)}`);
  expect(got.status, context).toBe(200);
  expect(got.body, context).toStrictEqual(res.body);
  expect(got.headers.etag, context).toBe(res.headers.etag);
}

// ---------------------------------------------------------------------------------------------------------------
// Seed data and snapshots
// ---------------------------------------------------------------------------------------------------------------

interface Seeded {
  contacts: string[];
  companies: string[];
  trashedContacts: string[];
  trashedCompanies: string[];
}
const seeded: Record<'A' | 'B', Seeded> = {
  A: { contacts: [], companies: [], trashedContacts: [], trashedCompanies: [] },
  B: { contacts: [], companies: [], trashedContacts: [], trashedCompanies: [] },
};
const patchTargets: Record<Kind, string> = { contact: '', company: '' };
let bIds: Set<string>;
/** Real cursors of both tenants, with the list they came from. */
const realCursors: Array<{ tenant: 'A' | 'B'; path: string; query: Record<string, string>; cursor: string }> = [];

async function create(client: Client, kind: Kind, body: Json): Promise<string> {
  const res = await client('POST', pathOf(kind), { body });
  if (res.status !== 201) throw new Error(`seeding ${kind} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

async function seedTenant(t: 'A' | 'B'): Promise<void> {
  const { contact, company } = api[t];
  const s = seeded[t];
  const co1 = await create(company, 'company', makeCompany({ ownerId: 'u1', tags: ['vip'] }));
  const co2 = await create(company, 'company', makeCompany({ ownerId: 'u1', tags: ['vip'] }));
  const coGone = await create(company, 'company', makeCompany({ ownerId: 'u1' }));
  const coGone2 = await create(company, 'company', makeCompany());
  s.companies.push(co1, co2);
  s.trashedCompanies.push(coGone, coGone2);
  for (const fields of [
    { companyId: co1, ownerId: 'u1', tags: ['vip'] },
    { companyId: co1, ownerId: 'u1', tags: ['vip'], lifecycleStage: 'lead' },
    { ownerId: 'u2', lifecycleStage: 'customer', phones: [] },
  ]) {
    s.contacts.push(await create(contact, 'contact', makeContact(fields)));
  }
  s.trashedContacts.push(
    await create(contact, 'contact', makeContact({ companyId: co1, ownerId: 'u1' })),
    await create(contact, 'contact', makeContact({ companyId: co1, ownerId: 'u1' })),
  );
  for (const id of s.trashedContacts) expect((await contact('DELETE', `/v1/contacts/${id}`)).status).toBe(204);
  for (const id of s.trashedCompanies) expect((await company('DELETE', `/v1/companies/${id}`)).status).toBe(204);

  const firstContact = (await contact('GET', `/v1/contacts/${s.contacts[0]}`)).body;
  const firstCompany = (await company('GET', `/v1/companies/${s.companies[0]}`)).body;
  const lists: Array<[string, Record<string, string>]> = [
    ['/v1/contacts', {}],
    ['/v1/contacts', { ownerId: 'u1' }],
    ['/v1/contacts', { lifecycleStage: 'lead' }],
    ['/v1/contacts', { companyId: co1 }],
    ['/v1/contacts', { tag: 'vip' }],
    ['/v1/contacts', { email: firstContact.emails[0] }],
    ['/v1/contacts', { phone: '+442079460018' }],
    ['/v1/contacts', { q: 'ada' }],
    ['/v1/contacts', { updatedSince: '2000-01-01T00:00:00Z' }],
    ['/v1/contacts', { inTrash: 'true' }],
    [`/v1/companies/${co1}/contacts`, {}],
    ['/v1/companies', {}],
    ['/v1/companies', { ownerId: 'u1' }],
    ['/v1/companies', { tag: 'vip' }],
    ['/v1/companies', { domain: firstCompany.domains[0] }],
    ['/v1/companies', { q: 'analytical' }],
    ['/v1/companies', { updatedSince: '2000-01-01T00:00:00Z' }],
    ['/v1/companies', { inTrash: 'true' }],
  ];
  for (const [path, query] of lists) {
    const client = path.startsWith('/v1/contacts') ? contact : company;
    const res = await client('GET', `${path}?${new URLSearchParams({ ...query, limit: '1' })}`);
    expect(res.status).toBe(200);
    if (res.body.nextCursor) realCursors.push({ tenant: t, path, query, cursor: res.body.nextCursor });
  }
}

type Snapshot = Record<string, unknown>;

/** Every seeded record as the API shows it (live by GET with its ETag; trashed from the trash list). */
async function snapshot(): Promise<Snapshot> {
  const state: Snapshot = {};
  for (const t of ['A', 'B'] as const) {
    const s = seeded[t];
    for (const [kind, ids] of [
      ['contact', s.contacts],
      ['company', s.companies],
    ] as const) {
      for (const id of ids) {
        const res = await api[t][kind]('GET', `${pathOf(kind)}/${id}`);
        state[`${t}/${kind}/${id}`] = { status: res.status, etag: res.headers.etag, body: res.body };
      }
    }
    for (const [kind, ids] of [
      ['contact', s.trashedContacts],
      ['company', s.trashedCompanies],
    ] as const) {
      const trash = await api[t][kind]('GET', `${pathOf(kind)}?inTrash=true&limit=100`);
      for (const id of ids) {
        state[`${t}/${kind}/${id}`] = trash.body.items.find((r: { id: string }) => r.id === id) ?? 'missing';
      }
    }
    // Tenant B is never written to by the fuzzers: its whole lists must stay as they are.
    if (t === 'B') {
      for (const query of ['limit=100', 'inTrash=true&limit=100', 'updatedSince=2000-01-01T00:00:00Z&limit=100']) {
        state[`B/contacts?${query}`] = (await api.B.contact('GET', `/v1/contacts?${query}`)).body;
        state[`B/companies?${query}`] = (await api.B.company('GET', `/v1/companies?${query}`)).body;
      }
    }
  }
  return state;
}

let before: Snapshot;
let warn: ReturnType<typeof vi.spyOn>;

beforeAll(async () => {
  // Thousands of requests: keep the logs to errors (a 5xx logs its cause) and drop the EMF metrics chatter.
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const originalWarn = console.warn.bind(console);
  warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    const text = String(args[0]);
    if (text.startsWith('No application metrics') || text.startsWith('Dimension "')) return;
    originalWarn(...args);
  });
  await useFreshTable();
  const contacts = (await import('../functions/http/contacts.ts')).handler;
  const companies = (await import('../functions/http/companies.ts')).handler;
  const customFields = (await import('../functions/http/custom-fields.ts')).handler;
  for (const [t, tenantId] of [
    ['A', A],
    ['B', B],
    ['H', H],
    ['S', S],
  ] as const) {
    const caller = { tenantId, roles: ['admin'], userId: `fuzzer-${t}` };
    api[t] = {
      contact: apiClient(contacts, caller),
      company: apiClient(companies, caller),
      customFields: apiClient(customFields, caller),
    };
  }
  const declared = await api.A.customFields('PUT', '/v1/custom-fields/contact', {
    body: {
      fields: [
        { key: 'tier', label: 'Tier', type: 'select', options: ['gold', 'silver'] },
        { key: 'score', label: 'Score', type: 'number' },
        { key: 'vip', label: 'VIP', type: 'boolean' },
        { key: 'renewal', label: 'Renewal', type: 'date' },
        { key: 'note', label: 'Note', type: 'text' },
        { key: 'regions', label: 'Regions', type: 'multiselect', options: ['emea', 'apac'] },
      ],
    },
  });
  expect(declared.status).toBe(200);
  const declaredCompany = await api.A.customFields('PUT', '/v1/custom-fields/company', {
    body: {
      fields: [
        { key: 'segment', label: 'Segment', type: 'select', options: ['smb', 'enterprise'] },
        { key: 'arr', label: 'ARR', type: 'number' },
        { key: 'public', label: 'Public', type: 'boolean' },
        { key: 'founded', label: 'Founded', type: 'date' },
      ],
    },
  });
  expect(declaredCompany.status).toBe(200);
  await seedTenant('A');
  await seedTenant('B');
  patchTargets.company = await create(api.A.company, 'company', makeCompany({ customFields: { arr: 10 } }));
  patchTargets.contact = await create(
    api.A.contact,
    'contact',
    makeContact({ companyId: seeded.A.companies[0], customFields: { tier: 'gold', score: 1 } }),
  );
  const b = seeded.B;
  bIds = new Set([...b.contacts, ...b.companies, ...b.trashedContacts, ...b.trashedCompanies]);
  before = await snapshot();
}, 120_000);

afterAll(() => {
  warn?.mockRestore();
});

// ---------------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------------

const refs = (): Refs => ({
  live: seeded.A.companies,
  dead: [...seeded.A.trashedCompanies, ...seeded.B.companies, ...seeded.B.trashedCompanies, 'NOPE'],
});

/**
 * Shrunk counterexamples the properties found, kept as explicit cases (they are also the properties' first examples).
 * Each was a 500 before its fix.
 */
const FDFA = 'ﷺ'; // U+FDFA: one UTF-16 unit, 18 characters after NFKD
const REGRESSIONS = {
  /** Sort keys embed the NFKD-folded name: 100 of these made a >1024-byte GSI sort key (create, patch, ?q=). */
  contactName: { rawBody: JSON.stringify({ firstName: FDFA.repeat(100) }) },
  companyName: { rawBody: JSON.stringify({ name: FDFA.repeat(200) }) },
  nameQuery: { path: '/v1/contacts', entries: [['q', FDFA.repeat(100)]] as Array<[string, string]> },
  /** Custom numbers beyond ±2^53-1 (the document client refuses them) or below 1e-130 (DynamoDB's range). */
  contactScore: { rawBody: '{"customFields":{"score":-9007199254740992},"emails":["Ada@Example.COM"]}' },
  companyArr: { rawBody: '{"customFields":{"arr":-9007199254740992},"name":"\\u0000"}' },
  /** A real cursor of the name list, sent with ?q= (same index partition, outside its begins_with range). */
  nameCursorWithQuery: () => ({
    path: '/v1/companies',
    entries: [
      ['cursor', realCursors.find((c) => c.tenant === 'A' && c.path === '/v1/companies' && !c.query.q)!.cursor],
      ['q', '\u0000'],
    ] as Array<[string, string]>,
  }),
  /** A forged cursor holding only the right index partition passed the partition check and reached DynamoDB. */
  partitionOnlyCursor: () => ({
    path: '/v1/contacts',
    entries: [['cursor', base64url(JSON.stringify({ gsi4pk: `${A}#contact#name` }))]] as Array<[string, string]>,
  }),
};

describe('fuzz: regressions (shrunk counterexamples)', () => {
  it('a name whose folded form outgrows a DynamoDB sort key is stored, listed and searchable', async () => {
    const contact = await api.A.contact('POST', '/v1/contacts', REGRESSIONS.contactName);
    expect(contact.status).toBe(201);
    await expectRoundTrip(api.A.contact, 'contact', contact, 'regression');
    const [, q] = REGRESSIONS.nameQuery.entries[0]!;
    const found = await api.A.contact('GET', `/v1/contacts?${new URLSearchParams({ q })}`);
    expect(found.status).toBe(200);
    expect(found.body.items.map((r: { id: string }) => r.id)).toContain(contact.body.id);
    const patched = await api.A.contact('PATCH', `/v1/contacts/${contact.body.id}`, {
      rawBody: JSON.stringify({ lastName: FDFA.repeat(100) }),
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    const company = await api.A.company('POST', '/v1/companies', REGRESSIONS.companyName);
    expect(company.status).toBe(201);
    await expectRoundTrip(api.A.company, 'company', company, 'regression');
  });

  it.each([
    ['contact', REGRESSIONS.contactScore.rawBody, 'body.customFields.score'],
    ['company', REGRESSIONS.companyArr.rawBody, 'body.customFields.arr'],
    ...['9007199254740992', '1e300', '1e126', '-1e20', '5e-324', '1e-131'].map(
      (n) => ['contact', `{"firstName":"A","customFields":{"score":${n}}}`, 'body.customFields.score'] as const,
    ),
  ] as const)('a %s custom number DynamoDB cannot store is a 400: %s', async (kind, rawBody, field) => {
    const res = await api.A[kind]('POST', pathOf(kind), { rawBody });
    expect(res.status).toBe(400);
    expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toEqual([field]);
  });

  it.each(['9007199254740991', '-9007199254740991', '1e-130', '-1e-130', '0.1', '-0', '1.7976931348623157e-100'])(
    'a storable custom number still round-trips: %s',
    async (n) => {
      const res = await api.A.contact('POST', '/v1/contacts', {
        rawBody: `{"firstName":"A","customFields":{"score":${n}}}`,
      });
      expect(res.status).toBe(201);
      expect(res.body.customFields.score).toBe(JSON.parse(n) + 0);
      await expectRoundTrip(api.A.contact, 'contact', res, n);
    },
  );

  it('a cursor of the same index partition but outside the filter’s sort-key range is a 400', async () => {
    const { path, entries } = REGRESSIONS.nameCursorWithQuery();
    const res = await api.A.company('GET', `${path}?${new URLSearchParams(entries)}`);
    expect(res.status).toBe(400);
    expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toEqual(['query.cursor']);
    // The same with a lower bound: a cursor of ?updatedSince=2000 sent with a later updatedSince.
    const sync = realCursors.find((c) => c.tenant === 'A' && c.path === '/v1/contacts' && c.query.updatedSince)!;
    const later = await api.A.contact(
      'GET',
      `/v1/contacts?${new URLSearchParams({ updatedSince: '2100-01-01T00:00:00Z', cursor: sync.cursor })}`,
    );
    expect(later.status).toBe(400);
    // Cursors inside the range still page on.
    for (const real of realCursors.filter((c) => c.tenant === 'A' && (c.query.q || c.query.updatedSince))) {
      const client = real.path.startsWith('/v1/contacts') ? api.A.contact : api.A.company;
      const next = await client('GET', `${real.path}?${new URLSearchParams({ ...real.query, cursor: real.cursor })}`);
      expect(next.status, JSON.stringify(real.query)).toBe(200);
    }
  });

  it('a cursor holding only the list’s partition is refused as a 400', async () => {
    const { path, entries } = REGRESSIONS.partitionOnlyCursor();
    const res = await api.A.contact('GET', `${path}?${new URLSearchParams(entries)}`);
    expect(res.status).toBe(400);
    expect(res.body.fieldErrors.map((e: { field: string }) => e.field)).toEqual(['query.cursor']);
  });
});

describe('fuzz: create', () => {
  for (const kind of ['contact', 'company'] as const) {
    it(`POST ${pathOf(kind)}: never 5xx; refusals are problem+json; a 201 round-trips through GET`, async () => {
      const client = api.A[kind];
      const stats = tally(`POST ${pathOf(kind)}`);
      await fc.assert(
        fc.asyncProperty(bodyArb(kind, refs(), false), async (request) => {
          const context = describeRequest(`POST ${pathOf(kind)}`, request);
          const res = await client('POST', pathOf(kind), request);
          stats.add(res.status);
          expectWellFormed(res, context);
          if (res.status === 201) await expectRoundTrip(client, kind, res, context);
          else expect([400, 413, 415], context).toContain(res.status);
        }),
        {
          numRuns: RUNS.create,
          examples: (kind === 'contact'
            ? [REGRESSIONS.contactName, REGRESSIONS.contactScore]
            : [REGRESSIONS.companyName, REGRESSIONS.companyArr]
          ).map((example): [Request] => [example]),
        },
      );
      stats.print();
      expect(stats.count(201)).toBeGreaterThan(RUNS.create / 10);
    });
  }
});

/** If-Match values, some of them naming the record's current, previous or next version. */
const CURRENT = Symbol('current');
const WEAK_CURRENT = Symbol('W/current');
const STALE = Symbol('stale');
const NEXT = Symbol('next');
const ifMatchArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(CURRENT, WEAK_CURRENT) },
  { weight: 1, arbitrary: fc.constantFrom(STALE, NEXT) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '*',
      ' * ',
      '',
      '"',
      '""',
      '"1',
      'W/"1"',
      'w/"1"',
      '"0"',
      '"-1"',
      '"1.0"',
      '"999999999999999"',
      '"9999999999999999"',
      '"1", "2"',
      '1',
      'null',
      '"\u0000"',
    ),
  },
  { weight: 1, arbitrary: nastyString() },
);
const resolveIfMatch = (value: string | symbol | undefined, version: number): string | undefined => {
  if (value === CURRENT) return `"${version}"`;
  if (value === WEAK_CURRENT) return `W/"${version}"`;
  if (value === STALE) return `"${version - 1}"`;
  if (value === NEXT) return `"${version + 1}"`;
  return value as string | undefined;
};
/** The version an If-Match header asks for; undefined when it sets no precondition or is malformed. */
const askedVersion = (value: string | undefined) => {
  const match = value === undefined ? null : /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(value);
  return match ? Number(match[1]) : undefined;
};

describe('fuzz: patch', () => {
  for (const kind of ['contact', 'company'] as const) {
    it(`PATCH ${pathOf(kind)}/{id}: never 5xx; a refusal changes nothing; a 200 bumps the version by at most 1`, async () => {
      const client = api.A[kind];
      const url = `${pathOf(kind)}/${patchTargets[kind]}`;
      let changed = 0;
      const stats = tally(`PATCH ${pathOf(kind)}/{id}`);
      await fc.assert(
        fc.asyncProperty(bodyArb(kind, refs(), true), ifMatchArb, async (request, ifMatchValue) => {
          const prior = await client('GET', url);
          expect(prior.status).toBe(200);
          const ifMatch = resolveIfMatch(ifMatchValue, prior.body.version);
          const sent: Request = ifMatch === undefined ? request : { ...request, headers: { 'if-match': ifMatch } };
          const context = describeRequest(`PATCH ${url}`, sent);
          const res = await client('PATCH', url, sent);
          stats.add(res.status);
          expectWellFormed(res, context);
          const after = await client('GET', url);
          expect(after.status, context).toBe(200);
          if (res.status === 200) {
            const asked = askedVersion(ifMatch);
            if (asked !== undefined)
              expect(asked, `${context}: a stale If-Match must not win`).toBe(prior.body.version);
            expect(res.body, context).toStrictEqual(after.body);
            expect(res.headers.etag, context).toBe(after.headers.etag);
            expect(
              Object.keys(res.body).filter((k) => !VIEW_KEYS[kind].has(k)),
              context,
            ).toEqual([]);
            if (after.body.version === prior.body.version) {
              expect(after.body, `${context}: unchanged version, changed record`).toStrictEqual(prior.body);
            } else {
              expect(after.body.version, context).toBe(prior.body.version + 1);
              changed += 1;
            }
          } else {
            expect([400, 404, 409, 412, 413, 415, 428], context).toContain(res.status);
            expect(after.body, `${context}: a refused patch changed the record`).toStrictEqual(prior.body);
            expect(after.headers.etag, context).toBe(prior.headers.etag);
          }
        }),
        {
          numRuns: RUNS.patch,
          examples: [[kind === 'contact' ? REGRESSIONS.contactName : REGRESSIONS.companyName, CURRENT]],
        },
      );
      stats.print();
      // The generator must reach the write path, or the property says little. About 1 in 6 patches is valid (the
      // rest are refusals by design); 1 in 25 is the floor below which the generator has degenerated.
      expect(changed).toBeGreaterThan(RUNS.patch / 25);
    });
  }
});

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const decodeCursor = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Json;

type RealCursor = (typeof realCursors)[number];

/** Cursors forged from a real one: the other tenant's, key attributes dropped, retyped, added, re-encoded. */
function forgedCursor({ cursor, tenant }: RealCursor): fc.Arbitrary<string> {
  const swapTenant = (o: Json, from: string, to: string) => JSON.parse(JSON.stringify(o).split(from).join(to)) as Json;
  const o = decodeCursor(cursor);
  const keys = Object.keys(o);
  const without = (k: string) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== k));
  const only = (k: string) => Object.fromEntries(Object.entries(o).filter(([key]) => key === k));
  const forged = fc
    .oneof(
      fc.constant(o),
      fc.constant(swapTenant(o, tenant === 'A' ? A : B, tenant === 'A' ? B : A)),
      fc.constantFrom(...keys).map(without),
      fc.constantFrom(...keys).map(only),
      fc.tuple(fc.constantFrom(...keys), junk).map(([k, v]) => ({ ...o, [k]: v })),
      fc.tuple(fc.constantFrom(...keys), nastyString()).map(([k, t]) => ({ ...o, [k]: `${String(o[k])}${t}` })),
      // Key attributes near and over DynamoDB's key size limits, still under the cursor's 2048 characters.
      fc
        .tuple(fc.constantFrom(...keys), fc.constantFrom(300, 700, 1000, 1030, 1100, 1300), fc.constantFrom('x', 'é'))
        .map(([k, n, c]) => ({ ...o, [k]: `${String(o[k])}${c.repeat(n)}` })),
      fc
        .tuple(fc.constantFrom('pk', 'sk', 'gsi1sk', 'gsi4sk', 'x', '__proto__', ''), junk)
        .map(([k, v]) => ({ ...o, [k]: v })),
    )
    .map((v) => toJsonText(v));
  return fc.oneof(
    { weight: 6, arbitrary: forged.map(base64url) },
    { weight: 1, arbitrary: forged.map((t) => Buffer.from(t).toString('base64')) },
    { weight: 1, arbitrary: fc.nat().map((n) => cursor.slice(0, n % (cursor.length + 1))) },
    { weight: 1, arbitrary: nastyString().map((t) => `${cursor}${t}`) },
  );
}

/** Any cursor: forged from a real one of either tenant, base64url of any JSON, or any string. */
function cursorArb(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...realCursors).chain(forgedCursor) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => base64url(JSON.stringify(v))) },
    { weight: 1, arbitrary: nastyString() },
  );
}

const LIST_KEYS: Record<string, string[]> = {
  '/v1/contacts': ['ownerId', 'lifecycleStage', 'companyId', 'tag', 'email', 'phone', 'q', 'updatedSince', 'inTrash'],
  '/v1/companies': ['ownerId', 'tag', 'domain', 'q', 'updatedSince', 'inTrash'],
};
const queryValue = fc.oneof(
  { weight: 4, arbitrary: nastyString() },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0',
      '-1',
      '1',
      '100',
      '101',
      '1e2',
      '1.5',
      ' 5',
      '0x10',
      'Infinity',
      'NaN',
      '99999999999999999999',
      'true',
      'false',
      'TRUE',
      'u1',
      'lead',
      'vip',
      'VIP',
      'ada',
      'analytical',
      '+442079460018',
      '+44 20 7946 0018',
      '2000-01-01T00:00:00Z',
      '2000-01-01T00:00:00.123456789+23:59',
      '9999-12-31T23:59:59-23:59',
      '0000-01-01T00:00:00Z',
      '2024-02-30T00:00:00Z',
      'yesterday',
      'example.com',
      'www.EXAMPLE.com',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 120 }) },
  { weight: 1, arbitrary: fc.constantFrom('ﷺ', '\u0000', 'é').map((c) => c.repeat(100)) },
);

describe('fuzz: list queries', () => {
  it('GET lists with arbitrary query strings: never 5xx, never another tenant’s records', async () => {
    const paths = ['/v1/contacts', '/v1/companies', `/v1/companies/${seeded.A.companies[0]}/contacts`];
    const keysFor = (path: string) => LIST_KEYS[path] ?? [];
    const arbitraryQuery = fc.constantFrom(...paths).chain((path) =>
      fc
        .array(
          fc.tuple(
            fc.oneof(
              { weight: 5, arbitrary: fc.constantFrom(...keysFor(path), 'limit', 'cursor') },
              {
                weight: 1,
                arbitrary: fc.constantFrom('sort', 'LIMIT', 'limit ', 'tenantId', '__proto__', 'constructor'),
              },
              { weight: 1, arbitrary: nastyString() },
            ),
            fc.oneof({ weight: 5, arbitrary: queryValue }, { weight: 2, arbitrary: cursorArb() }),
          ),
          { maxLength: 4 },
        )
        .map((entries) => ({ path, entries })),
    );
    // A real list (the filter a cursor came from) with a forged cursor, so the cursor check is what decides; at
    // times with a filter of its own, so a cursor of one list meets another list of the same index partition.
    const cursorQuery = fc
      .constantFrom(...realCursors)
      .chain((real) =>
        fc.tuple(
          fc.constant(real),
          fc.oneof({ weight: 3, arbitrary: forgedCursor(real) }, fc.constant(real.cursor)),
          fc.option(fc.constantFrom('1', '2', '100'), { nil: undefined }),
          keysFor(real.path).length > 0
            ? fc.option(fc.tuple(fc.constantFrom(...keysFor(real.path)), queryValue), { nil: undefined, freq: 2 })
            : fc.constant(undefined),
        ),
      )
      .map(([{ path, query }, cursor, limit, extra]) => ({
        path,
        entries: [
          ...Object.entries(query),
          ['cursor', cursor],
          ...(limit ? [['limit', limit]] : []),
          ...(extra ? [extra] : []),
        ] as Array<[string, string]>,
      }));
    let ok = 0;
    const stats = tally('GET lists');
    await fc.assert(
      fc.asyncProperty(fc.oneof(arbitraryQuery, cursorQuery), async ({ path, entries }) => {
        const client = path.startsWith('/v1/contacts') ? api.A.contact : api.A.company;
        const url = `${path}?${new URLSearchParams(entries)}`;
        const context = describeRequest('GET', url);
        const res = await client('GET', url);
        stats.add(res.status);
        expectWellFormed(res, context);
        if (res.status === 200) {
          ok += 1;
          expect(Array.isArray(res.body.items), context).toBe(true);
          expect(res.body.nextCursor === null || typeof res.body.nextCursor === 'string', context).toBe(true);
          const leaked = res.body.items.map((r: { id: string }) => r.id).filter((id: string) => bIds.has(id));
          expect(leaked, `${context}: returned another tenant's records`).toEqual([]);
        } else {
          expect([400], context).toContain(res.status);
        }
      }),
      {
        numRuns: RUNS.list,
        examples: [[REGRESSIONS.nameQuery], [REGRESSIONS.partitionOnlyCursor()], [REGRESSIONS.nameCursorWithQuery()]],
      },
    );
    stats.print();
    expect(ok).toBeGreaterThan(RUNS.list / 10);
  });
});

describe('fuzz: path parameters', () => {
  it('GET/PATCH/DELETE/restore with arbitrary ids: never 5xx, never another tenant’s record, nothing changes', async () => {
    const otherTenantIds = [...bIds];
    const idArb = fc.oneof(
      { weight: 4, arbitrary: nastyString(false).filter((s) => s.length > 0) },
      { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/) },
      { weight: 2, arbitrary: fc.ulid() },
      { weight: 2, arbitrary: fc.constantFrom(...otherTenantIds) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('.', '..', '%', '%2F', ' ', 'a/b', `${otherTenantIds[0]}#`, 'a'.repeat(65)),
      },
    );
    const op = fc.constantFrom('GET', 'PATCH', 'DELETE', 'RESTORE');
    const stats = tally('path parameters');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>('contact', 'company'),
        idArb,
        op,
        ifMatchArb,
        bodyArb('contact', refs(), true),
        async (kind, id, operation, ifMatchValue, body) => {
          const base = `${pathOf(kind)}/${encodeURIComponent(id)}`;
          const ifMatch = resolveIfMatch(ifMatchValue, 1);
          const headers = ifMatch === undefined ? undefined : { 'if-match': ifMatch };
          const [method, url, request]: [string, string, Request] =
            operation === 'GET'
              ? ['GET', base, {}]
              : operation === 'PATCH'
                ? ['PATCH', base, { ...body, ...(headers ? { headers } : {}) }]
                : operation === 'DELETE'
                  ? ['DELETE', base, headers ? { headers } : {}]
                  : ['POST', `${base}/restore`, headers ? { headers } : {}];
          const context = describeRequest(`${method} ${url}`, request);
          const res = await api.A[kind](method, url, request);
          stats.add(res.status);
          expectWellFormed(res, context);
          // 413/415: an oversized or non-JSON PATCH body is refused before the id matters.
          expect([400, 404, 413, 415], context).toContain(res.status);
          if (
            bIds.has(id) &&
            (operation === 'GET' || ((operation === 'DELETE' || operation === 'RESTORE') && !headers))
          ) {
            expect(res.status, `${context}: another tenant's record`).toBe(404);
          }
        },
      ),
      { numRuns: RUNS.path },
    );
    stats.print();
    expect(stats.count(404)).toBeGreaterThan(0);
    expect(await snapshot()).toStrictEqual(before);
  });
});

/** Every contact (or company) of a tenant, paging the name list 100 at a time. */
async function countAll(client: Client, kind: Kind): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: TestResponse = await client('GET', `${pathOf(kind)}?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    count += page.body.items.length;
    cursor = page.body.nextCursor;
  } while (cursor);
  return count;
}

describe('fuzz: headers', () => {
  it('POST with arbitrary Idempotency-Key and Content-Type: never 5xx, at most one record per request', async () => {
    const fixedBodies = [makeContact(), makeContact(), makeCompany(), makeCompany()].map((b) => JSON.stringify(b));
    const keyArb = fc.option(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('k1', 'k2', 'k3', '00000000-0000-4000-8000-000000000000') },
        { weight: 2, arbitrary: fc.uuid() },
        { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 300 }) },
        { weight: 2, arbitrary: nastyString() },
        {
          weight: 1,
          arbitrary: fc.constantFrom('', ' ', ' k1', 'k1 ', 'k 1', 'a'.repeat(255), 'a'.repeat(256), 'ключ'),
        },
      ),
      { nil: undefined },
    );
    const contentTypeArb = fc.option(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(
            'application/json',
            'application/json; charset=utf-8',
            'APPLICATION/JSON',
            'application/vnd.api+json',
            'application/merge-patch+json',
            'application/jsonx',
            'application/json\u0000',
            ' application/json',
            'text/plain',
            'text/json',
            'multipart/form-data; boundary=x',
            'application/x-www-form-urlencoded',
            '',
            '*/*',
          ),
        },
        { weight: 1, arbitrary: nastyString() },
      ),
      { nil: undefined },
    );
    const requestArb = fc.record({
      kind: fc.constantFrom<Kind>('contact', 'company'),
      body: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...fixedBodies) },
        {
          weight: 2,
          arbitrary: fc.uuid().map((u) => JSON.stringify(makeContact({ lastName: u, emails: [`${u}@example.com`] }))),
        },
        { weight: 1, arbitrary: nastyString() },
        { weight: 1, arbitrary: fc.json() },
      ),
      key: keyArb,
      contentType: contentTypeArb,
    });
    const counts: Record<Kind, number> = {
      contact: await countAll(api.H.contact, 'contact'),
      company: await countAll(api.H.company, 'company'),
    };
    let created = 0;
    const stats = tally('POST with arbitrary headers');
    await fc.assert(
      fc.asyncProperty(requestArb, async ({ kind, body, key, contentType }) => {
        const headers: Record<string, string> = {};
        if (key !== undefined) headers['idempotency-key'] = key;
        // undefined: no Content-Type header at all.
        headers['content-type'] = contentType as string;
        const request: Request = { rawBody: body, headers };
        const context = describeRequest(`POST ${pathOf(kind)}`, request);
        const res = await api.H[kind]('POST', pathOf(kind), request);
        stats.add(res.status);
        expectWellFormed(res, context);
        const now = await countAll(api.H[kind], kind);
        const replayed = res.headers['idempotent-replayed'] === 'true';
        const expected = res.status === 201 && !replayed ? 1 : 0;
        expect(now - counts[kind], `${context} -> ${res.status}`).toBe(expected);
        counts[kind] = now;
        if (res.status === 201) {
          created += expected;
          const got = await api.H[kind]('GET', `${pathOf(kind)}/${res.body.id}`);
          expect(got.body, context).toStrictEqual(res.body);
        }
      }),
      { numRuns: RUNS.headers },
    );
    stats.print();
    expect(created).toBeGreaterThan(0);
  });
});

describe('fuzz: record size', () => {
  it('PATCH sequences growing a contact toward its 64 KiB cap: never 5xx; stored size never over it; a 413 changes nothing', async () => {
    const { model } = await import('../shared/db/store.ts');
    const { itemSize } = await import('../shared/db/item-size.ts');
    const { MAX_RECORD_BYTES } = await import('../shared/records/lifecycle.ts');
    const client = api.S.contact;
    const fields = Array.from({ length: 40 }, (_, i) => ({ key: `t${i}`, label: `Text ${i}`, type: 'text' }));
    expect((await api.S.customFields('PUT', '/v1/custom-fields/contact', { body: { fields } })).status).toBe(200);
    const storedSize = async (contactId: string) => {
      const { data } = await model.entities.contact.get({ tenantId: S, contactId }).go({ data: 'raw' });
      return itemSize((data as unknown as { Item: Record<string, unknown> }).Item);
    };
    /** A patch of a few text fields, each up to its 2000-unit limit of one edge character (1 to 4 UTF-8 bytes). */
    const patchArb = fc
      .array(
        fc.tuple(
          fc.nat(39),
          fc.constantFrom(...EDGE_CHARS),
          fc.oneof(fc.constant(2000), fc.integer({ min: 0, max: 2000 })),
        ),
        { minLength: 1, maxLength: 8 },
      )
      .map((entries) =>
        Object.fromEntries(
          entries.map(([i, c, n]) => [`t${i}`, n === 0 ? null : c.repeat(Math.ceil(n / c.length)).slice(0, n)]),
        ),
      );
    const stats = tally('PATCH growing a contact');
    await fc.assert(
      fc.asyncProperty(fc.array(patchArb, { minLength: 1, maxLength: 10 }), async (patches) => {
        const created = await client('POST', '/v1/contacts', { body: makeContact() });
        expect(created.status).toBe(201);
        const url = `/v1/contacts/${created.body.id}`;
        for (const customFields of patches) {
          const prior = await client('GET', url);
          const context = describeRequest(`PATCH ${url}`, { customFields });
          const res = await client('PATCH', url, { body: { customFields } });
          stats.add(res.status);
          expectWellFormed(res, context);
          expect([200, 400, 413], context).toContain(res.status);
          if (res.status !== 200) expect((await client('GET', url)).body, context).toStrictEqual(prior.body);
          expect(await storedSize(created.body.id), context).toBeLessThanOrEqual(MAX_RECORD_BYTES);
        }
      }),
      {
        numRuns: Math.max(5, Math.round(12 * SCALE)),
        // Two patches of 8 fields × 2000 three-byte characters (48 KB each): the second passes the cap.
        examples: [
          [
            [0, 1].map((p) =>
              Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`t${p * 8 + i}`, '株'.repeat(2000)])),
            ),
          ],
        ],
      },
    );
    stats.print();
    expect(stats.count(200)).toBeGreaterThan(0);
    expect(stats.count(413)).toBeGreaterThan(0);
  });
});

describe('fuzz: aftermath', () => {
  it('left every seeded record of both tenants exactly as it was', async () => {
    expect(await snapshot()).toStrictEqual(before);
  });
});

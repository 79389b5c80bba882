/**
 * Property-based fuzzing of the product, pipeline and deal endpoints: no malformed input gets a 5xx, every refusal
 * is problem+json, and a refused write changes no stored data. Amounts computed from random line items are exact.
 * Handlers are called with API Gateway payload-v2 events against DynamoDB Local (see support/http-event.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { divideHalfEven } from '../shared/deals/money.ts';
import { makeCompany, makeContact, uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

type Client = ReturnType<typeof apiClient>;

/** Runs per property: modest, the file stays well under a minute on 2 cores. FUZZ_RUNS_SCALE=10 digs deeper. */
const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 90_000 * Math.max(1, SCALE) });

const T = uniqueTenant('fuzzdeals');
let deals: Client;
let catalog: Client;
const refs = { pipelineId: '', productId: '', companyId: '', contactId: '', dealId: '' };

beforeAll(async () => {
  await useFreshTable();
  const caller = { tenantId: T, roles: ['admin'], userId: 'fuzzer' };
  deals = apiClient((await import('../functions/http/deals.ts')).handler, caller);
  catalog = apiClient((await import('../functions/http/catalog.ts')).handler, caller);
  const contacts = apiClient((await import('../functions/http/contacts.ts')).handler, caller);
  const companies = apiClient((await import('../functions/http/companies.ts')).handler, caller);
  const pipeline = await catalog('POST', '/v1/pipelines', {
    body: {
      name: 'Fuzz',
      stages: [
        { id: 'open', name: 'Open' },
        { id: 'won', name: 'Won', kind: 'won' },
        { id: 'lost', name: 'Lost', kind: 'lost' },
      ],
    },
  });
  const product = await catalog('POST', '/v1/products', { body: { sku: 'FZ', name: 'Fuzz', prices: { EUR: 999 } } });
  const company = await companies('POST', '/v1/companies', { body: makeCompany() });
  const contact = await contacts('POST', '/v1/contacts', { body: makeContact() });
  const deal = await deals('POST', '/v1/deals', {
    body: { name: 'Target', currency: 'EUR', companyId: company.body.id, contactIds: [contact.body.id] },
  });
  for (const res of [pipeline, product, company, contact, deal]) expect(res.status).toBe(201);
  Object.assign(refs, {
    pipelineId: pipeline.body.id,
    productId: product.body.id,
    companyId: company.body.id,
    contactId: contact.body.id,
    dealId: deal.body.id,
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries

const NASTY = ['', ' ', '\u0000', '#', '%', '../', '__proto__', '\ud800', '👩‍👩‍👧', 'e\u0301', '<script>', 'null'];
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.integer({ min: 0, max: 300 }).map((n) => 'x'.repeat(n)),
);
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 0.5, 1e21, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -0),
);
const scalar = fc.oneof(nastyString, number, fc.boolean(), fc.constant(null));
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const currency = fc.oneof(fc.constantFrom('EUR', 'JPY', 'BHD', 'USD', 'eur', 'XXY', 'EURO'), nastyString);
const lineItem = fc.record(
  {
    productId: fc.oneof(
      fc.constant(() => refs.productId),
      nastyString,
    ),
    name: nastyString,
    quantity: fc.oneof(fc.integer({ min: -2, max: 2_000_000 }), number),
    unitPrice: fc.oneof(fc.integer({ min: -5, max: 10_000_000 }), number),
    discount: fc.oneof(
      fc.record({ percentBasisPoints: fc.oneof(fc.integer({ min: -1, max: 10_001 }), number) }),
      fc.record({ amount: fc.oneof(fc.integer({ min: -1, max: 10_000_000 }), number) }),
      junk,
    ),
  },
  { requiredKeys: [] },
);
const ids = fc.oneof(
  fc.constant(() => refs.contactId),
  fc.constant(() => refs.companyId),
  fc.constant(() => refs.pipelineId),
  nastyString,
);

/** Fields of a deal create or patch: mostly plausible, often wrong, sometimes junk. */
const dealFields = fc.record(
  {
    name: fc.oneof(fc.constant('Fuzzed deal'), nastyString, junk),
    amount: fc.oneof(fc.integer({ min: -1, max: 1_000_000 }), number, junk),
    currency: fc.oneof(currency, junk),
    expectedCloseDate: fc.oneof(
      fc.constantFrom('2027-01-31', '2027-02-30', '2027-1-1', ''),
      nastyString,
      fc.constant(null),
    ),
    pipelineId: ids,
    stageId: fc.oneof(fc.constantFrom('open', 'won', 'lost', 'nope'), nastyString),
    lostReason: fc.oneof(fc.constant('Budget'), nastyString),
    ownerId: fc.oneof(fc.constant('owner-1'), nastyString),
    contactIds: fc.oneof(fc.array(ids, { maxLength: 25 }), junk, fc.constant(null)),
    companyId: fc.oneof(ids, fc.constant(null)),
    lineItems: fc.oneof(fc.array(lineItem, { maxLength: 4 }), junk, fc.constant(null)),
    extra: junk,
  },
  { requiredKeys: [] },
);

/** Resolves `() => id` placeholders (refs exist only once beforeAll ran). */
function resolve(value: unknown): unknown {
  if (typeof value === 'function') return (value as () => string)();
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  }
  return value;
}

function expectWellFormed(res: TestResponse, label: string) {
  expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers['content-type'], label).toBe('application/problem+json');
    expect(typeof res.body.code, label).toBe('string');
  }
}

/** Everything a refused request must leave as it was. */
async function snapshot() {
  const [deal, list, history, purchases, board, products] = await Promise.all([
    deals('GET', `/v1/deals/${refs.dealId}`),
    deals('GET', '/v1/deals?limit=100'),
    deals('GET', `/v1/deals/${refs.dealId}/stages`),
    deals('GET', `/v1/companies/${refs.companyId}/purchases`),
    deals('GET', `/v1/pipelines/${refs.pipelineId}/board?limit=50`),
    catalog('GET', '/v1/products?limit=100'),
  ]);
  return JSON.stringify([deal.body, list.body, history.body, purchases.body, board.body, products.body]);
}

describe('fuzzing deals', () => {
  it('creates: any body gets a 2xx or a problem+json 4xx, and a refused create stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(dealFields, async (raw) => {
        // An unknown field makes the body invalid (strict schemas): sent only sometimes, as `extra`.
        const body = resolve(raw) as Record<string, unknown>;
        const before = await snapshot();
        const res = await deals('POST', '/v1/deals', { body });
        expectWellFormed(res, 'POST /v1/deals');
        if (res.status >= 400) expect(await snapshot()).toBe(before);
        else {
          // Created: the amount is the exact sum of the line totals, each exact.
          const lines = res.body.lineItems as Array<{
            quantity: number;
            unitPrice: number;
            discountAmount: number;
            lineTotal: number;
          }>;
          for (const l of lines)
            expect(BigInt(l.lineTotal) + BigInt(l.discountAmount)).toBe(BigInt(l.quantity) * BigInt(l.unitPrice));
          if (lines.length) expect(res.body.amount).toBe(lines.reduce((s, l) => s + l.lineTotal, 0));
          expect((await deals('DELETE', `/v1/deals/${res.body.id}`)).status).toBe(204);
        }
      }),
      { numRuns: runs(80) },
    );
  });

  it('patches and stage moves: malformed input never changes the deal', async () => {
    await fc.assert(
      fc.asyncProperty(dealFields, fc.boolean(), async (raw, move) => {
        const { extra: _e, pipelineId, stageId, lostReason, ...fields } = resolve(raw) as Record<string, unknown>;
        const before = await snapshot();
        const res = move
          ? await deals('POST', `/v1/deals/${refs.dealId}/stage`, { body: { pipelineId, stageId, lostReason } })
          : await deals('PATCH', `/v1/deals/${refs.dealId}`, { body: fields });
        expectWellFormed(res, move ? 'POST stage' : 'PATCH');
        if (res.status >= 400) expect(await snapshot()).toBe(before);
      }),
      { numRuns: runs(80) },
    );
  });

  it('raw bodies (not JSON, not objects, huge) are refused with 4xx', async () => {
    const raw = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constantFrom('', '{', '[]', 'null', '"x"', '{"name":', `{"name":"${'x'.repeat(70_000)}"}`),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(raw, fc.constantFrom('/v1/deals', `/v1/products`, '/v1/pipelines'), async (rawBody, path) => {
        const client = path === '/v1/deals' ? deals : catalog;
        const res = await client('POST', path, { rawBody });
        expectWellFormed(res, `POST ${path}`);
      }),
      { numRuns: runs(80) },
    );
  });

  it('query strings, cursors and path ids never cause a 5xx', async () => {
    const query = fc.dictionary(
      fc.constantFrom('limit', 'cursor', 'ownerId', 'companyId', 'contactId', 'q', 'updatedSince', 'inTrash', 'x'),
      fc.oneof(nastyString, fc.integer().map(String), fc.base64String({ maxLength: 60 })),
      { maxKeys: 3 },
    );
    const pathId = fc.oneof(
      fc.constant('01ARZ3NDEKTSV4RRFFQ69G5FAV'),
      nastyString.filter((s) => s.length > 0 && !/[/?#%]/.test(s) && !/[\ud800-\udfff]/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(query, pathId, fc.integer({ min: 0, max: 6 }), async (q, id, which) => {
        const search = new URLSearchParams(q as Record<string, string>).toString();
        const enc = encodeURIComponent(id);
        const paths = [
          `/v1/deals?${search}`,
          `/v1/deals/${enc}/stages?${search}`,
          `/v1/deals/${enc}/timeline?${search}`,
          `/v1/pipelines/${enc}/board?${search}`,
          `/v1/pipelines/${refs.pipelineId}/stages/${enc}/deals?${search}`,
          `/v1/contacts/${enc}/purchases?${search}`,
          `/v1/companies/${enc}/purchases?${search}`,
        ];
        const res = await deals('GET', paths[which]!);
        expectWellFormed(res, paths[which]!);
      }),
      { numRuns: runs(150) },
    );
  });
});

describe('fuzzing the catalogue', () => {
  const productBody = fc.record(
    {
      sku: fc.oneof(fc.constantFrom('FZ', 'fz', 'NEW-1', 'a/b', '-x'), nastyString, junk),
      name: fc.oneof(fc.constant('Thing'), nastyString, junk),
      description: fc.oneof(nastyString, junk),
      prices: fc.oneof(
        fc.dictionary(currency, fc.oneof(fc.integer({ min: -1, max: 1e9 }), number, fc.constant(null)), { maxKeys: 4 }),
        junk,
      ),
      active: fc.oneof(fc.boolean(), junk),
    },
    { requiredKeys: [] },
  );

  it('product creates and patches: refusals are problem+json and store nothing; SKU FZ stays unique', async () => {
    await fc.assert(
      fc.asyncProperty(productBody, fc.boolean(), async (body, patch) => {
        const before = await snapshot();
        const res = patch
          ? await catalog('PATCH', `/v1/products/${refs.productId}`, { body })
          : await catalog('POST', '/v1/products', { body });
        expectWellFormed(res, patch ? 'PATCH product' : 'POST product');
        if (res.status >= 400) expect(await snapshot()).toBe(before);
        if (!patch && res.status === 201) {
          expect(res.body.sku).not.toBe('FZ');
          await catalog('DELETE', `/v1/products/${res.body.id}`);
        }
        if (patch && res.status === 200 && res.body.sku !== 'FZ') {
          // Keep the fixture's SKU for the next runs.
          await catalog('PATCH', `/v1/products/${refs.productId}`, { body: { sku: 'FZ' } });
        }
      }),
      { numRuns: runs(60) },
    );
  });

  it('pipeline stage changes: malformed stages are refused, and a stage holding a deal is never removed', async () => {
    const stage = fc.record(
      {
        id: fc.oneof(fc.constantFrom('open', 'won', 'lost', 'new'), nastyString),
        name: fc.oneof(fc.constantFrom('Open', 'Won', 'Lost', 'New'), nastyString),
        probability: fc.oneof(fc.integer({ min: -1, max: 101 }), number),
        kind: fc.oneof(fc.constantFrom('open', 'won', 'lost'), nastyString),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(stage, { maxLength: 6 }), junk), async (stages) => {
        const res = await catalog('PATCH', `/v1/pipelines/${refs.pipelineId}`, { body: { stages } });
        expectWellFormed(res, 'PATCH pipeline');
        const pipeline = await catalog('GET', `/v1/pipelines/${refs.pipelineId}`);
        const deal = await deals('GET', `/v1/deals/${refs.dealId}`);
        // The fixture deal's stage is still in the pipeline, whatever was sent.
        expect(pipeline.body.stages.map((s: { id: string }) => s.id)).toContain(deal.body.stageId);
      }),
      { numRuns: runs(80) },
    );
  });
});

describe('money', () => {
  it('a percentage discount is the half-even rounding of the exact product', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 10_000 }), (gross, bp) => {
        const d = divideHalfEven(gross * BigInt(bp), 10_000n);
        const exactTimes2 = (gross * BigInt(bp) * 2n) / 10_000n;
        expect(d * 2n - exactTimes2 <= 1n && exactTimes2 - d * 2n <= 1n).toBe(true);
      }),
      { numRuns: runs(500) },
    );
  });
});

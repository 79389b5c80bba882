/**
 * Property-based fuzzing of the segment endpoints: no malformed filter, member list or patch gets a 5xx, a refused
 * create stores no segment, and a refused member change leaves the list and its count as they were. Handlers are
 * called with API Gateway payload-v2 events against DynamoDB Local. Runs are kept modest.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

type Client = ReturnType<typeof apiClient>;
let api: Client;
const T = uniqueTenant('fuzz-seg');
let listId = '';
let dynamicId = '';

beforeAll(async () => {
  await useFreshTable('fuzz-seg');
  const handler = (await import('../functions/http/segments.ts')).handler;
  api = apiClient(handler, { tenantId: T, roles: ['admin'], userId: 'a-1' });
  listId = (await api('POST', '/v1/segments', { body: { kind: 'static', name: 'List' } })).body.id;
  const dynamic = await api('POST', '/v1/segments', {
    body: { kind: 'dynamic', name: 'D', filter: { field: 'tags', op: 'contains', value: 'vip' } },
  });
  expect(dynamic.status).toBe(201);
  dynamicId = dynamic.body.id;
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', '９０', '\ud800', 'null', '__proto__', 'constructor'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const field = fc.oneof(
  fc.constantFrom(
    'lifecycleStage',
    'tags',
    'address.country',
    'createdAt',
    'consent.email',
    'engagement.opened',
    'custom.tier',
    'custom.',
    'custom.__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 20 }),
);
const op = fc.oneof(
  fc.constantFrom('eq', 'neq', 'in', 'contains', 'exists', 'gt', 'lt', 'between', 'withinDays'),
  fc.string({ maxLength: 10 }),
);
const condition = fc.record(
  { field, op, value: fc.oneof(nasty, fc.constantFrom('vip', 'DE', 30, 0, -1, 1e9, '2026-01-01T00:00:00Z')) },
  { requiredKeys: [] },
);
const filter = fc.letrec<{ f: unknown }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small' },
    condition,
    nasty,
    fc.array(tie('f'), { maxLength: 4 }).map((all) => ({ all })),
    fc.array(tie('f'), { maxLength: 4 }).map((any) => ({ any })),
    tie('f').map((not) => ({ not })),
    fc.record({ all: fc.array(tie('f'), { maxLength: 2 }), any: fc.array(tie('f'), { maxLength: 2 }) }),
  ),
})).f;

async function segmentCount(): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: TestResponse = await api('GET', `/v1/segments?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    count += page.body.items.length;
    cursor = page.body.nextCursor;
  } while (cursor);
  return count;
}

describe('segments under fuzzing', () => {
  it('answers any filter with a segment or a 4xx, and stores nothing for a refused one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(filter, nasty), fc.constantFrom('dynamic', 'static', 'other'), async (f, kind) => {
        const before = await segmentCount();
        const res = await api('POST', '/v1/segments', { body: { kind, name: 'F', filter: f } });
        noServerError(res, f);
        expect(await segmentCount()).toBe(before + (res.status === 201 ? 1 : 0));
        const patched = await api('PATCH', `/v1/segments/${dynamicId}`, { body: { filter: f } });
        noServerError(patched, f);
      }),
      { numRuns: runs(60) },
    );
  });

  it('answers any member change with a result or a 4xx, and a refused one changes nothing', async () => {
    const ids = fc.oneof(
      fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), nasty), { maxLength: 5 }),
      nasty,
    );
    await fc.assert(
      fc.asyncProperty(ids, fc.constantFrom('members', 'members/remove'), async (contactIds, path) => {
        const before = (await api('GET', `/v1/segments/${listId}`)).body.memberCount;
        const res = await api('POST', `/v1/segments/${listId}/${path}`, { body: { contactIds } });
        noServerError(res, contactIds);
        // No such contacts exist in this tenant: nothing is ever added.
        if (res.status === 200) expect(res.body.changed).toBe(0);
        expect((await api('GET', `/v1/segments/${listId}`)).body.memberCount).toBe(before);
        const cursor = await api(
          'GET',
          `/v1/segments/${listId}/members?cursor=${encodeURIComponent(JSON.stringify(contactIds) ?? 'x')}`,
        );
        noServerError(cursor, contactIds);
      }),
      { numRuns: runs(60) },
    );
  });
});

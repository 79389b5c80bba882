/**
 * Property-based fuzzing of the campaign endpoints: no malformed input gets a 5xx, and a refused write changes
 * nothing stored (the campaign keeps its version). Schedules get odd local times and zones (DST edges, impossible
 * dates, offsets, junk). Handlers are called with API Gateway payload-v2 events against DynamoDB Local.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { putSegment, putTemplate } from './support/campaigns.ts';
import { uniqueTenant } from './support/factories.ts';
import { apiClient, type TestResponse } from './support/http-event.ts';
import { useFreshTable } from './support/table.ts';

const SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
vi.setConfig({ testTimeout: 60_000 * Math.max(1, SCALE) });

type Client = ReturnType<typeof apiClient>;
let api: Client;
const T = uniqueTenant('fuzz-cmp');
const VALID = {
  name: 'News',
  audience: { listIds: ['list-1'] },
  templateId: 'tpl-1',
  from: { address: 'news@crm.local' },
};
let campaignId = '';

beforeAll(async () => {
  await useFreshTable('fuzz-cmp');
  process.env.MARKETING_MAIL_DOMAIN = 'crm.local';
  await putTemplate(T, 'tpl-1');
  await putSegment(T, 'list-1', 'static');
  const handler = (await import('../functions/http/campaigns.ts')).handler;
  api = apiClient(handler, { tenantId: T, roles: ['admin'], userId: 'm-1' });
  const created = await api('POST', '/v1/campaigns', { body: VALID });
  expect(created.status).toBe(201);
  campaignId = created.body.id;
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', '\ud800', 'null', '__proto__', 'constructor'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const ids = fc.array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/), nasty), { maxLength: 12 });
const audience = fc.oneof(
  fc.record(
    { segmentIds: ids, listIds: ids, excludeSegmentIds: ids, excludeListIds: ids, extra: nasty },
    { requiredKeys: [] },
  ),
  nasty,
);
const sender = fc.oneof(
  fc.record(
    {
      address: fc.oneof(
        fc.constantFrom('news@crm.local', 'NEWS@CRM.LOCAL', 'a@x.crm.local', 'a@crm.local.evil'),
        nasty,
      ),
      name: fc.oneof(fc.string({ maxLength: 120 }), nasty),
    },
    { requiredKeys: [] },
  ),
  nasty,
);
const campaignBody = fc.record(
  {
    name: fc.oneof(fc.string({ maxLength: 250 }), nasty),
    audience,
    templateId: fc.oneof(fc.constantFrom('tpl-1', 'missing'), nasty),
    categoryId: fc.oneof(fc.constantFrom('news'), nasty),
    from: sender,
    replyTo: fc.oneof(fc.constantFrom('a@b.example'), nasty),
    status: fc.constantFrom('sent', 'sending'),
  },
  { requiredKeys: [] },
);

const localTime = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1990, max: 2100 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
    )
    .map(([y, mo, d, h, mi]) => {
      const p = (n: number) => String(n).padStart(2, '0');
      return `${y}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}`;
    }),
  fc.constantFrom('2027-03-28T02:30', '2027-10-31T02:30', '2027-03-14T02:15', '2027-01-01T00:00Z', '2027-01-01'),
  nasty,
);
const zone = fc.oneof(
  fc.constantFrom('Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC', 'Etc/GMT+12'),
  fc.constantFrom('Mars/Olympus', 'europe/berlin', '+02:00', '', 'Europe/Berlin\u0000'),
  nasty,
);
const scheduleBody = fc.oneof(
  fc.record({ at: localTime, timeZone: zone, now: fc.oneof(fc.constant(true), nasty) }, { requiredKeys: [] }),
  nasty,
);

async function stored() {
  return (await api('GET', `/v1/campaigns/${campaignId}`)).body as { version: number; status: string };
}

describe('campaign endpoints under malformed input', () => {
  it('never answer a create with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(campaignBody, async (body) => {
        noServerError(await api('POST', '/v1/campaigns', { body }), body);
      }),
      { numRuns: runs(120) },
    );
  });

  it('never answer a patch with a 5xx, and a refused patch changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(campaignBody, async (body) => {
        const before = await stored();
        const res = await api('PATCH', `/v1/campaigns/${campaignId}`, { body });
        noServerError(res, body);
        if (res.status >= 400) expect((await stored()).version).toBe(before.version);
      }),
      { numRuns: runs(80) },
    );
  });

  it('never answer a schedule with a 5xx; a refused one leaves the campaign a draft at its version', async () => {
    // Each accepted schedule is taken back to a draft through a new campaign, so every run starts from a draft.
    await fc.assert(
      fc.asyncProperty(scheduleBody, async (body) => {
        const draft = (await api('POST', '/v1/campaigns', { body: VALID })).body.id as string;
        const res = await api('POST', `/v1/campaigns/${draft}/schedule`, { body });
        noServerError(res, body);
        const after = (await api('GET', `/v1/campaigns/${draft}`)).body;
        if (res.status >= 400) expect(after).toMatchObject({ status: 'draft', version: 1 });
        else expect(after).toMatchObject({ status: 'scheduled', version: 2, sendAt: expect.any(String) });
      }),
      { numRuns: runs(80) },
    );
  });

  it('never answer odd list and ledger queries with a 5xx', async () => {
    const query = fc.dictionary(
      fc.constantFrom('limit', 'cursor', 'status', 'q', 'inTrash', 'state', 'other'),
      fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('0', '101', '-1', 'true', 'sent', 'eyJway'),
        fc.base64String(),
      ),
      { maxKeys: 3 },
    );
    await fc.assert(
      fc.asyncProperty(query, fc.boolean(), async (params, ledger) => {
        const qs = new URLSearchParams(params).toString();
        const path = ledger ? `/v1/campaigns/${campaignId}/recipients` : '/v1/campaigns';
        noServerError(await api('GET', `${path}?${qs}`), params);
      }),
      { numRuns: runs(120) },
    );
  });
});

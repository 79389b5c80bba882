/**
 * Property-based fuzzing of the SLA endpoints (business calendars, SLA policies, the due-time preview): no malformed
 * input gets a 5xx, and a refused write changes nothing stored. Handlers are called with API Gateway payload-v2 events
 * against DynamoDB Local. Runs are kept modest.
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
const T = uniqueTenant('fuzz-sla');

const HOURS = [{ start: '09:00', end: '17:00' }];
const VALID_CALENDAR = {
  name: 'Office',
  timeZone: 'Europe/Berlin',
  weeklyHours: { mon: HOURS, tue: HOURS },
  holidays: [{ date: '2026-12-25', recurring: true }],
};
const TARGET = { firstResponseMinutes: 60, resolutionMinutes: 480 };
let calendarId = '';
let policyId = '';
const validPolicy = () => ({
  name: 'Standard',
  calendarId,
  targets: { low: TARGET, normal: TARGET, high: TARGET, urgent: TARGET },
  warnBeforeMinutes: 30,
  escalation: { raisePriority: true },
});

beforeAll(async () => {
  await useFreshTable('fuzz-sla');
  api = apiClient((await import('../functions/http/sla.ts')).handler, { tenantId: T, roles: ['admin'], userId: 'a-1' });
  const calendar = await api('POST', '/v1/business-calendars', { body: VALID_CALENDAR });
  expect(calendar.status).toBe(201);
  calendarId = calendar.body.id;
  const policy = await api('POST', '/v1/sla-policies', { body: validPolicy() });
  expect(policy.status).toBe(201);
  policyId = policy.body.id;
});

const noServerError = (res: TestResponse, what: unknown) => {
  expect(res.status, JSON.stringify(what).slice(0, 300)).toBeLessThan(500);
  if (res.status >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
};

const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '#', '*', '../', 'NaN', '1e400', '９０', '\ud800', 'null', '24:00', '23:60'),
  fc.constantFrom('Europe/Berlin', 'europe/BERLIN', 'Etc/GMT+14', 'America/Argentina/ComodRivadavia', 'Mars/Base'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

const wallTime = fc.oneof(
  fc
    .tuple(fc.integer({ min: -1, max: 25 }), fc.integer({ min: -1, max: 61 }))
    .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
  nasty,
);
const interval = fc.oneof(fc.record({ start: wallTime, end: wallTime }), nasty);
const dayHours = fc.oneof(fc.array(interval, { maxLength: 8 }), nasty);

/** A valid calendar with one field replaced by something generated. */
const mutatedCalendar = fc.oneof(
  fc
    .record({ field: fc.constantFrom('name', 'timeZone', 'weeklyHours', 'holidays', 'extra'), value: nasty })
    .map(({ field, value }) => ({ ...VALID_CALENDAR, [field]: value })),
  fc
    .record({ day: fc.constantFrom('mon', 'sun', 'monday', '__proto__'), hours: dayHours })
    .map(({ day, hours }) => ({ ...VALID_CALENDAR, weeklyHours: { [day]: hours } })),
  fc
    .array(fc.oneof(fc.record({ date: nasty, recurring: nasty }), nasty), { maxLength: 4 })
    .map((holidays) => ({ ...VALID_CALENDAR, holidays })),
  nasty,
);

const minutes = fc.oneof(fc.integer({ min: -10, max: 600_000 }), nasty);
const mutatedPolicy = fc.oneof(
  fc
    .record({
      field: fc.constantFrom('name', 'calendarId', 'targets', 'warnBeforeMinutes', 'escalation', 'extra'),
      value: nasty,
    })
    .map(({ field, value }) => ({ ...validPolicy(), [field]: value })),
  fc
    .record({
      priority: fc.constantFrom('low', 'urgent', 'critical'),
      first: minutes,
      resolution: minutes,
    })
    .map(({ priority, first, resolution }) => ({
      ...validPolicy(),
      targets: { ...validPolicy().targets, [priority]: { firstResponseMinutes: first, resolutionMinutes: resolution } },
    })),
  fc
    .record({ reassignToTeamId: nasty, raisePriority: nasty, notifyTeamLead: nasty })
    .map((escalation) => ({ ...validPolicy(), escalation })),
  nasty,
);

/** Any generated value as query text (objects as JSON, so null-prototype dictionaries print too). */
const text = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'));

describe('SLA fuzzing', () => {
  it('never answers a malformed calendar with a 5xx; a refused create or patch stores nothing', async () => {
    const before = (await api('GET', `/v1/business-calendars/${calendarId}`)).body;
    let created = 1;
    await fc.assert(
      fc.asyncProperty(mutatedCalendar, fc.boolean(), async (body, patch) => {
        const res = patch
          ? await api('PATCH', `/v1/business-calendars/${calendarId}`, { body })
          : await api('POST', '/v1/business-calendars', { body });
        noServerError(res, body);
        if (res.status === 201) created += 1;
        if (res.status === 200) {
          // Put the known calendar back, so every refused patch is compared against the same stored state.
          const restored = await api('PATCH', `/v1/business-calendars/${calendarId}`, { body: VALID_CALENDAR });
          expect(restored.status).toBe(200);
        } else {
          const now = (await api('GET', `/v1/business-calendars/${calendarId}`)).body;
          expect({ ...now, version: 0, updatedAt: '' }).toEqual({ ...before, version: 0, updatedAt: '' });
        }
      }),
      { numRuns: runs(120) },
    );
    const all = await api('GET', '/v1/business-calendars?limit=100');
    expect(all.body.items.length).toBe(created);
  });

  it('never answers a malformed policy with a 5xx; a refused one stores nothing', async () => {
    let created = 1;
    await fc.assert(
      fc.asyncProperty(mutatedPolicy, async (body) => {
        const res = await api('POST', '/v1/sla-policies', { body });
        noServerError(res, body);
        if (res.status === 201) created += 1;
      }),
      { numRuns: runs(120) },
    );
    const all = await api('GET', '/v1/sla-policies?limit=100');
    expect(all.body.items.length).toBe(created);
  });

  it('never answers a malformed due-time query or cursor with a 5xx', async () => {
    const instant = fc.oneof(
      fc
        .date({ min: new Date('1900-01-01'), max: new Date('9999-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      nasty.map(text),
    );
    const pause = fc.tuple(instant, fc.oneof(instant, fc.constant(''))).map(([a, b]) => `${a}/${b}`);
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            priority: fc.oneof(fc.constantFrom('low', 'normal', 'high', 'urgent'), nasty.map(text)),
            createdAt: instant,
            paused: fc.oneof(
              fc.array(pause, { maxLength: 25 }).map((p) => p.join(',')),
              nasty.map(text),
            ),
            cursor: fc.string({ maxLength: 40 }),
            limit: nasty.map(text),
          },
          { requiredKeys: [] },
        ),
        async (query) => {
          const search = new URLSearchParams(query as Record<string, string>);
          const res = await api('GET', `/v1/sla-policies/${policyId}/due-times?${search}`);
          noServerError(res, query);
          const list = await api('GET', `/v1/business-calendars?${search}`);
          noServerError(list, query);
          const byMonth = new URLSearchParams(search);
          byMonth.set('month', query.priority ?? '2026-11');
          const outcomes = await api('GET', `/v1/sla-outcomes?${byMonth}`);
          noServerError(outcomes, query);
        },
      ),
      { numRuns: runs(120) },
    );
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { apiClient, type TestResponse } from '../../test/support/http-event.ts';
import { useFreshTable } from '../../test/support/table.ts';
import { putTeam } from '../../test/support/teams.ts';

type Client = ReturnType<typeof apiClient>;
let slaAs: (tenantId: string, roles?: string[]) => Client;
const tenant = uniqueTenant('sla');

beforeAll(async () => {
  await useFreshTable();
  const handler = (await import('./sla.ts')).handler;
  slaAs = (tenantId, roles = ['admin']) => apiClient(handler, { tenantId, roles, userId: 'admin-1' });
});

const nineToFive = [{ start: '09:00', end: '17:00' }];
const berlinCalendar = {
  name: 'Berlin office',
  timeZone: 'Europe/Berlin',
  weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
  holidays: [{ date: '2026-12-25', recurring: true, name: 'Christmas' }],
};
const target = (firstResponseMinutes: number, resolutionMinutes: number) => ({
  firstResponseMinutes,
  resolutionMinutes,
});
const targets = { low: target(480, 2400), normal: target(240, 960), high: target(60, 480), urgent: target(15, 120) };

const fieldsOf = (res: TestResponse) => ((res.body.fieldErrors ?? []) as Array<{ field: string }>).map((e) => e.field);

async function newCalendar(api: Client, body: object = berlinCalendar): Promise<string> {
  const res = await api('POST', '/v1/business-calendars', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

describe('business calendars', () => {
  it('creates, reads, lists by name with cursors, patches with If-Match and deletes', async () => {
    const t = uniqueTenant('cal');
    const api = slaAs(t);
    const body = {
      ...berlinCalendar,
      timeZone: 'europe/berlin',
      weeklyHours: {
        mon: [
          { start: '09:00', end: '12:30' },
          { start: '13:30', end: '18:00' },
        ],
      },
    };
    const created = await api('POST', '/v1/business-calendars', { body, headers: { 'idempotency-key': 'cal-1' } });
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/business-calendars/${created.body.id}`);
    // The zone is stored in its canonical spelling; days left out have no hours.
    expect(created.body).toMatchObject({ timeZone: 'Europe/Berlin', version: 1, createdBy: 'admin-1' });
    expect(created.body.weeklyHours.tue).toEqual([]);
    expect(created.body.weeklyHours.mon).toHaveLength(2);
    expect(created.body.holidays).toEqual([{ date: '2026-12-25', recurring: true, name: 'Christmas' }]);
    // The same Idempotency-Key replays the first answer.
    const replay = await api('POST', '/v1/business-calendars', { body, headers: { 'idempotency-key': 'cal-1' } });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(created.body.id);

    for (const name of ['Chicago support', 'Auckland night shift']) {
      await newCalendar(api, { ...berlinCalendar, name });
    }
    const first = await api('GET', '/v1/business-calendars?limit=2');
    expect(first.body.items.map((c: { name: string }) => c.name)).toEqual(['Auckland night shift', 'Berlin office']);
    const second = await api('GET', `/v1/business-calendars?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((c: { name: string }) => c.name)).toEqual(['Chicago support']);
    expect(second.body.nextCursor).toBeNull();

    const id = created.body.id;
    const stale = await api('PATCH', `/v1/business-calendars/${id}`, {
      body: { name: 'x' },
      headers: { 'if-match': '"7"' },
    });
    expect(stale.status).toBe(412);
    const patched = await api('PATCH', `/v1/business-calendars/${id}`, {
      body: { holidays: [{ date: '2027-01-01' }], timeZone: 'America/New_York' },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.etag).toBe('"2"');
    expect(patched.body).toMatchObject({
      timeZone: 'America/New_York',
      holidays: [{ date: '2027-01-01', recurring: false }],
    });
    // A patch that changes nothing keeps the version.
    const same = await api('PATCH', `/v1/business-calendars/${id}`, { body: { timeZone: 'America/New_York' } });
    expect(same.body.version).toBe(2);
    expect((await api('GET', `/v1/business-calendars/${id}`)).body).toEqual(patched.body);

    expect((await api('DELETE', `/v1/business-calendars/${id}`, { headers: { 'if-match': '"1"' } })).status).toBe(412);
    expect((await api('DELETE', `/v1/business-calendars/${id}`, { headers: { 'if-match': '"2"' } })).status).toBe(204);
    const gone = await api('GET', `/v1/business-calendars/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('businessCalendar.not_found');
  });

  it('refuses bad calendars with field errors: zone, times, overlaps, empty weeks, duplicate holidays', async () => {
    const api = slaAs(tenant);
    const cases: Array<[object, string]> = [
      [{ ...berlinCalendar, timeZone: 'Mars/Olympus' }, 'body.timeZone'],
      [{ ...berlinCalendar, weeklyHours: { mon: [{ start: '9:00', end: '17:00' }] } }, 'body.weeklyHours.mon.0.start'],
      [{ ...berlinCalendar, weeklyHours: { mon: [{ start: '17:00', end: '09:00' }] } }, 'body.weeklyHours.mon.0.end'],
      [{ ...berlinCalendar, weeklyHours: { mon: [{ start: '09:00', end: '24:30' }] } }, 'body.weeklyHours.mon.0.end'],
      [
        {
          ...berlinCalendar,
          weeklyHours: {
            mon: [
              { start: '09:00', end: '13:00' },
              { start: '12:00', end: '17:00' },
            ],
          },
        },
        'body.weeklyHours.mon.1.start',
      ],
      [{ ...berlinCalendar, weeklyHours: { mon: [] } }, 'body.weeklyHours'],
      [{ ...berlinCalendar, weeklyHours: { monday: nineToFive } }, 'body.weeklyHours'],
      [
        {
          ...berlinCalendar,
          holidays: [
            { date: '2026-12-25', recurring: true },
            { date: '2030-12-25', recurring: true },
          ],
        },
        'body.holidays.1.date',
      ],
      [{ ...berlinCalendar, holidays: [{ date: '2026-02-30' }] }, 'body.holidays.0.date'],
    ];
    for (const [body, field] of cases) {
      const res = await api('POST', '/v1/business-calendars', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(
        fieldsOf(res).some((f) => f.startsWith(field)),
        `${JSON.stringify(res.body.fieldErrors)} ${field}`,
      ).toBe(true);
    }
    expect((await api('GET', '/v1/business-calendars?limit=100')).body.items).toEqual([]);
  });

  it('a calendar a policy counts on cannot be deleted', async () => {
    const api = slaAs(uniqueTenant('inuse'));
    // The first policy is the default, which cannot be deleted: it lives on another calendar.
    const other = await newCalendar(api, { ...berlinCalendar, name: 'Other' });
    await api('POST', '/v1/sla-policies', { body: { name: 'Default', calendarId: other, targets } });
    const calendarId = await newCalendar(api);
    const policy = await api('POST', '/v1/sla-policies', { body: { name: 'Standard', calendarId, targets } });
    expect(policy.status).toBe(201);
    const refused = await api('DELETE', `/v1/business-calendars/${calendarId}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'businessCalendar.in_use', policyIds: [policy.body.id] });
    expect((await api('DELETE', `/v1/sla-policies/${policy.body.id}`)).status).toBe(204);
    expect((await api('DELETE', `/v1/business-calendars/${calendarId}`)).status).toBe(204);
  });
});

describe('SLA policies', () => {
  it('creates with defaults, checks the calendar and the escalation team exist, patches and lists', async () => {
    const t = uniqueTenant('pol');
    const api = slaAs(t);
    const calendarId = await newCalendar(api);
    const created = await api('POST', '/v1/sla-policies', {
      body: { name: 'Standard', calendarId, targets },
      headers: { 'idempotency-key': 'pol-1' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Standard',
      calendarId,
      targets,
      warnBeforeMinutes: 0,
      escalation: { raisePriority: false, notifyTeamLead: false },
      isDefault: true,
      version: 1,
    });

    const unknownCalendar = await api('POST', '/v1/sla-policies', {
      body: { name: 'X', calendarId: 'nope', targets },
    });
    expect(unknownCalendar.status).toBe(400);
    expect(unknownCalendar.body.fieldErrors).toEqual([
      { field: 'body.calendarId', message: 'No business calendar nope.', code: 'unknown_calendar' },
    ]);
    const escalation = { reassignToTeamId: 'tier-2', raisePriority: true, notifyTeamLead: true };
    const unknownTeam = await api('PATCH', `/v1/sla-policies/${created.body.id}`, { body: { escalation } });
    expect(unknownTeam.status).toBe(400);
    expect(fieldsOf(unknownTeam)).toEqual(['body.escalation.reassignToTeamId']);
    expect((await api('GET', `/v1/sla-policies/${created.body.id}`)).body.version).toBe(1);

    await putTeam(t, 'tier-2', []);
    const patched = await api('PATCH', `/v1/sla-policies/${created.body.id}`, {
      body: { escalation, warnBeforeMinutes: 30 },
      headers: { 'if-match': '"1"' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ escalation, warnBeforeMinutes: 30, version: 2 });
    const stale = await api('PATCH', `/v1/sla-policies/${created.body.id}`, {
      body: { name: 'Gold' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);

    await api('POST', '/v1/sla-policies', { body: { name: 'Enterprise', calendarId, targets } });
    const page = await api('GET', '/v1/sla-policies?limit=1');
    expect(page.body.items.map((p: { name: string }) => p.name)).toEqual(['Enterprise']);
    const next = await api('GET', `/v1/sla-policies?limit=1&cursor=${page.body.nextCursor}`);
    expect(next.body.items.map((p: { name: string }) => p.name)).toEqual(['Standard']);
  });

  it("the organisation's first policy is its default; the default moves in one transaction and is not deleted", async () => {
    const t = uniqueTenant('default');
    const api = slaAs(t);
    const { loadSlaContext } = await import('../../shared/sla/service.ts');
    expect(await loadSlaContext(t)).toBeUndefined();
    const calendarId = await newCalendar(api);
    const first = await api('POST', '/v1/sla-policies', { body: { name: 'First', calendarId, targets } });
    expect(first.body.isDefault).toBe(true);
    const second = await api('POST', '/v1/sla-policies', { body: { name: 'Second', calendarId, targets } });
    expect(second.body.isDefault).toBe(false);
    expect((await loadSlaContext(t))?.policy.policyId).toBe(first.body.id);

    const third = await api('POST', '/v1/sla-policies', {
      body: { name: 'Third', calendarId, targets, isDefault: true },
    });
    expect(third.body.isDefault).toBe(true);
    const firstNow = await api('GET', `/v1/sla-policies/${first.body.id}`);
    expect(firstNow.body).toMatchObject({ isDefault: false, version: 2 });
    const context = await loadSlaContext(t);
    expect(context?.policy.policyId).toBe(third.body.id);
    expect(context?.calendarRules.timeZone).toBe('Europe/Berlin');
    expect((await loadSlaContext(t, second.body.id))?.policy.name).toBe('Second');
    expect(await loadSlaContext(t, 'nope')).toBeUndefined();

    const refused = await api('DELETE', `/v1/sla-policies/${third.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('slaPolicy.is_default');
    const moved = await api('PATCH', `/v1/sla-policies/${second.body.id}`, { body: { isDefault: true } });
    expect(moved.body.isDefault).toBe(true);
    expect((await api('GET', `/v1/sla-policies/${third.body.id}`)).body.isDefault).toBe(false);
    expect((await api('DELETE', `/v1/sla-policies/${third.body.id}`)).status).toBe(204);
    const isDefaultFalse = await api('PATCH', `/v1/sla-policies/${first.body.id}`, { body: { isDefault: false } });
    expect(isDefaultFalse.status).toBe(400);
  });

  it('refuses bad targets with field errors', async () => {
    const api = slaAs(tenant);
    const calendarId = await newCalendar(api);
    const cases: Array<[object, string]> = [
      [{ targets: { ...targets, urgent: target(120, 60) } }, 'body.targets.urgent.firstResponseMinutes'],
      [{ targets: { low: targets.low, normal: targets.normal, high: targets.high } }, 'body.targets.urgent'],
      [{ targets: { ...targets, high: target(0, 60) } }, 'body.targets.high.firstResponseMinutes'],
      [{ targets: { ...targets, high: target(1.5, 60) } }, 'body.targets.high.firstResponseMinutes'],
      [{ targets: { ...targets, high: target(60, 10_000_000) } }, 'body.targets.high.resolutionMinutes'],
      [{ targets, warnBeforeMinutes: -1 }, 'body.warnBeforeMinutes'],
      [{ targets, escalation: { raisePriority: 'yes' } }, 'body.escalation.raisePriority'],
      [{ targets, escalation: { reassignToTeamId: 'a#b' } }, 'body.escalation.reassignToTeamId'],
    ];
    for (const [extra, field] of cases) {
      const res = await api('POST', '/v1/sla-policies', { body: { name: 'Bad', calendarId, ...extra } });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(
        fieldsOf(res).some((f) => f.startsWith(field)),
        `${JSON.stringify(res.body.fieldErrors)} ${field}`,
      ).toBe(true);
    }
  });

  it('previews due times on the policy: Friday 17:30 to Monday, and a pause on the customer', async () => {
    const api = slaAs(uniqueTenant('due'));
    const calendarId = await newCalendar(api);
    const policy = await api('POST', '/v1/sla-policies', {
      body: { name: 'Standard', calendarId, targets, warnBeforeMinutes: 30 },
    });
    const url = `/v1/sla-policies/${policy.body.id}/due-times`;
    // Fri 2026-11-27 17:30 CET (16:30Z), normal: first response 240 → Mon 09:00 + 4 h = 13:00 CET = 12:00Z; warning
    // at 210 → 12:30 CET = 11:30Z; resolution 960 = Monday's 480 + Tuesday's 480 → Tue 17:00 CET = 16:00Z.
    const friday = await api(
      'GET',
      `${url}?priority=normal&createdAt=${encodeURIComponent('2026-11-27T17:30:00+01:00')}`,
    );
    expect(friday.status).toBe(200);
    expect(friday.body).toEqual({
      firstResponseDueAt: '2026-11-30T12:00:00.000Z',
      firstResponseWarnAt: '2026-11-30T11:30:00.000Z',
      resolutionDueAt: '2026-12-01T16:00:00.000Z',
      resolutionWarnAt: '2026-12-01T15:30:00.000Z',
      paused: false,
    });
    // Urgent, opened Mon 2026-11-30 09:00 CET (08:00Z), pending 09:10-11:00 CET, then again from 11:30 CET (open):
    // first response 15 → 09:15 is inside the first pause, so 5 more after 11:00: 11:05 CET = 10:05Z; resolution 120
    // has 10 + 30 minutes run when the open pause starts: no due time.
    const paused = encodeURIComponent('2026-11-30T08:10:00Z/2026-11-30T10:00:00Z,2026-11-30T10:30:00Z/');
    const waiting = await api('GET', `${url}?priority=urgent&createdAt=2026-11-30T08:00:00Z&paused=${paused}`);
    expect(waiting.body).toMatchObject({
      firstResponseDueAt: '2026-11-30T10:05:00.000Z',
      resolutionDueAt: null,
      paused: true,
    });

    for (const query of [
      'priority=critical&createdAt=2026-11-30T08:00:00Z',
      'priority=low&createdAt=monday',
      'priority=low&createdAt=0050-01-01T00:00:00Z',
      'priority=low&createdAt=2026-11-30T08:00:00Z&paused=2026-11-30T10:00:00Z',
      'priority=low&createdAt=2026-11-30T08:00:00Z&paused=2026-11-30T10:00:00Z/2026-11-30T09:00:00Z',
      `priority=low&createdAt=2026-11-30T08:00:00Z&paused=${Array(21).fill('2026-11-30T10:00:00Z/').join(',')}`,
      'priority=low',
    ]) {
      const res = await api('GET', `${url}?${query}`);
      expect(res.status, query).toBe(400);
    }
    expect(
      (await api('GET', '/v1/sla-policies/nope/due-times?priority=low&createdAt=2026-11-30T08:00:00Z')).status,
    ).toBe(404);
  });
});

describe('SLA outcomes', () => {
  it('records each target once and lists a month in the order outcomes were decided', async () => {
    const t = uniqueTenant('outcome');
    const api = slaAs(t);
    const { recordSlaOutcome } = await import('../../shared/sla/outcomes.ts');
    const base = { policyId: 'p-1', priority: 'high' as const, teamId: 'tier-1' };
    // Met at 10:00 for a 10:30 due time: achieved, decided when met.
    expect(
      await recordSlaOutcome(t, {
        ...base,
        ticketId: 't-1',
        target: 'firstResponse',
        outcome: 'achieved',
        dueAt: '2026-11-30T10:30:00.000Z',
        metAt: '2026-11-30T10:00:00.000Z',
      }),
    ).toBe(true);
    // Unmet at its due time: breached, decided at the due time.
    const breach = {
      ...base,
      ticketId: 't-2',
      target: 'resolution' as const,
      outcome: 'breached' as const,
      dueAt: '2026-11-30T09:00:00.000Z',
    };
    expect(await recordSlaOutcome(t, breach)).toBe(true);
    // The first outcome stands: a redelivered timer, or the ticket solved late, records nothing more.
    expect(await recordSlaOutcome(t, breach)).toBe(false);
    expect(await recordSlaOutcome(t, { ...breach, outcome: 'achieved', metAt: '2026-11-30T08:00:00.000Z' })).toBe(
      false,
    );
    // December's partition.
    await recordSlaOutcome(t, { ...breach, ticketId: 't-3', dueAt: '2026-12-01T09:00:00.000Z' });

    const november = await api('GET', '/v1/sla-outcomes?month=2026-11&limit=1');
    expect(november.status).toBe(200);
    expect(november.body.items).toEqual([{ ...breach, decidedAt: breach.dueAt }]);
    const rest = await api('GET', `/v1/sla-outcomes?month=2026-11&limit=1&cursor=${november.body.nextCursor}`);
    expect(rest.body.items.map((o: { ticketId: string; outcome: string }) => [o.ticketId, o.outcome])).toEqual([
      ['t-1', 'achieved'],
    ]);
    const december = await api('GET', '/v1/sla-outcomes?month=2026-12');
    expect(december.body.items.map((o: { ticketId: string }) => o.ticketId)).toEqual(['t-3']);
    expect((await slaAs(uniqueTenant('other'))('GET', '/v1/sla-outcomes?month=2026-11')).body.items).toEqual([]);
    for (const month of ['2026-13', '2026-1', 'november', '']) {
      expect((await api('GET', `/v1/sla-outcomes?month=${month}`)).status, month).toBe(400);
    }
    // Another month's cursor cannot page this one.
    expect((await api('GET', `/v1/sla-outcomes?month=2026-12&cursor=${november.body.nextCursor}`)).status).toBe(400);
  });
});

describe('permissions and tenants', () => {
  it('every role reads; only admin and manager manage', async () => {
    const t = uniqueTenant('perm');
    const calendarId = await newCalendar(slaAs(t));
    for (const role of ['support', 'sales', 'readonly']) {
      const api = slaAs(t, [role]);
      expect((await api('GET', '/v1/business-calendars')).status).toBe(200);
      expect((await api('GET', `/v1/business-calendars/${calendarId}`)).status).toBe(200);
      expect((await api('POST', '/v1/business-calendars', { body: berlinCalendar })).status).toBe(403);
      expect((await api('POST', '/v1/sla-policies', { body: { name: 'x', calendarId, targets } })).status).toBe(403);
      expect((await api('DELETE', `/v1/business-calendars/${calendarId}`)).status).toBe(403);
    }
    expect(
      (await slaAs(t, ['manager'])('POST', '/v1/sla-policies', { body: { name: 'x', calendarId, targets } })).status,
    ).toBe(201);
  });

  it("another tenant's calendars and policies are not found, nor usable by a policy", async () => {
    const mine = slaAs(uniqueTenant('mine'));
    const theirs = slaAs(uniqueTenant('theirs'));
    const calendarId = await newCalendar(mine);
    const policy = await mine('POST', '/v1/sla-policies', { body: { name: 'Mine', calendarId, targets } });
    expect((await theirs('GET', `/v1/business-calendars/${calendarId}`)).status).toBe(404);
    expect((await theirs('GET', `/v1/sla-policies/${policy.body.id}`)).status).toBe(404);
    expect((await theirs('PATCH', `/v1/sla-policies/${policy.body.id}`, { body: { name: 'x' } })).status).toBe(404);
    expect((await theirs('DELETE', `/v1/business-calendars/${calendarId}`)).status).toBe(404);
    expect((await theirs('POST', '/v1/sla-policies', { body: { name: 'x', calendarId, targets } })).status).toBe(400);
    expect((await theirs('GET', '/v1/business-calendars')).body.items).toEqual([]);
    // A cursor from my list cannot page theirs.
    await newCalendar(mine, { ...berlinCalendar, name: 'Second' });
    const page = await mine('GET', '/v1/business-calendars?limit=1');
    expect((await theirs('GET', `/v1/business-calendars?limit=1&cursor=${page.body.nextCursor}`)).status).toBe(400);
  });
});

import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { createModel } from '../shared/db/model.ts';
import { slaScheduleName } from '../shared/tickets/sla.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Ticket SLAs across the whole local cloud: API → table → stream → bus → SLA consumer (due times on the ticket, one
 * one-time schedule per ticket) → local EventBridge Scheduler → SLA timer Lambda → SES outbox, escalation and
 * outcomes; the timer's write → stream → consumer → the next timer. A 24x7 calendar and targets of a few minutes.
 */
let cloud: LocalCloud;
let manager: ReturnType<typeof api>;
const TENANT = 'slaops';
let frontTeam: string;
let escalationTeam: string;
let requesterId: string;

async function putUsers() {
  const model = createModel({ table: cloud.tableName, client: DynamoDBDocumentClient.from(cloud.dynamo.client) });
  const now = new Date().toISOString();
  for (const [userId, email, name] of [
    ['agent-1', 'agent@slaops.example', 'Ada Agent'],
    ['lead-1', 'lead1@slaops.example', 'Lena Lead'],
    ['lead-2', 'lead2@slaops.example', 'Lars Escalation'],
  ] as const) {
    await model.entities.user
      .put({
        tenantId: TENANT,
        userId,
        email,
        name,
        roles: ['support'],
        timeZone: 'UTC',
        status: 'active',
        sortName: name.toLowerCase(),
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
  }
}

beforeAll(async () => {
  cloud = await startTestCloud();
  manager = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['manager'], userId: 'agent-1' }));
  await putUsers();
  // Warm the functions used below (a cold start on busy cores can pass the API's timeout).
  for (const path of ['/v1/teams', '/v1/sla-policies', '/v1/tickets', '/v1/contacts']) {
    await eventually(async () => ((await manager('GET', path)).status === 200 ? true : undefined), 90_000);
  }
  const team = async (name: string, leadUserId: string) => {
    const created = await manager('POST', '/v1/teams', { name, leadUserId });
    expect(created.status, created.text).toBe(201);
    return created.body.id as string;
  };
  frontTeam = await team('Front line', 'lead-1');
  escalationTeam = await team('Second line', 'lead-2');
  const allDay = [{ start: '00:00', end: '24:00' }];
  const calendar = await manager('POST', '/v1/business-calendars', {
    name: 'Around the clock',
    timeZone: 'UTC',
    weeklyHours: { mon: allDay, tue: allDay, wed: allDay, thu: allDay, fri: allDay, sat: allDay, sun: allDay },
  });
  expect(calendar.status, calendar.text).toBe(201);
  const target = { firstResponseMinutes: 2, resolutionMinutes: 30 };
  const policy = await manager('POST', '/v1/sla-policies', {
    name: 'Fast',
    calendarId: calendar.body.id,
    targets: { low: target, normal: target, high: target, urgent: target },
    warnBeforeMinutes: 1,
    escalation: { reassignToTeamId: escalationTeam, raisePriority: true, notifyTeamLead: true },
  });
  expect(policy.status, policy.text).toBe(201);
  expect(policy.body.isDefault).toBe(true);
  const requester = await manager('POST', '/v1/contacts', makeContact());
  requesterId = requester.body.id;
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

const mailsTo = async (address: string, number: string) =>
  (await cloud.ses.sentEmails()).filter((m) => m.to.includes(address) && m.subject.includes(`${number} `));
const ticketNow = async (id: string) => (await manager('GET', `/v1/tickets/${id}`)).body;
const scheduleOf = (ticketId: string) =>
  cloud.scheduler.list().find((s) => s.Name === slaScheduleName(TENANT, ticketId));

// The two cases wait on real minutes for different tickets: run them side by side (each checks only its own ticket).
describe.concurrent('ticket SLAs in the local cloud', () => {
  it('warns the assignee before the first response is due, then escalates the breach', {
    timeout: 300_000,
  }, async ({ expect }) => {
    const created = await manager('POST', '/v1/tickets', {
      subject: 'Site down',
      requesterId,
      assigneeId: 'agent-1',
      teamId: frontTeam,
    });
    expect(created.status, created.text).toBe(201);
    const { id, number, createdAt } = created.body;
    const at = (minutes: number) => new Date(Date.parse(createdAt) + minutes * 60_000).toISOString();

    // The consumer wrote the due times (the default policy), and scheduled the warning in the SLA group.
    const sla = await eventually(async () => (await ticketNow(id)).sla, 60_000);
    expect(sla).toMatchObject({
      firstResponseDueAt: at(2),
      firstResponseWarnAt: at(1),
      resolutionDueAt: at(30),
      paused: false,
    });
    const schedule = await eventually(async () => scheduleOf(id), 30_000);
    expect(schedule.GroupName).toMatch(/-ticket-sla$/);
    expect(schedule.ActionAfterCompletion).toBe('DELETE');

    // A minute in: the warning mail to the assignee, marked on the ticket.
    const [warning] = await eventually(async () => {
      const mails = await mailsTo('agent@slaops.example', number);
      return mails.length > 0 ? mails : undefined;
    }, 150_000);
    expect(warning!.subject).toContain('SLA warning');
    await eventually(async () => ((await ticketNow(id)).sla?.firstResponse?.warnedAt ? true : undefined), 30_000);

    // Two minutes in: the breach. Priority raised, moved to the escalation team, unassigned, its lead mailed.
    const [breach] = await eventually(async () => {
      const mails = await mailsTo('lead2@slaops.example', number);
      return mails.length > 0 ? mails : undefined;
    }, 150_000);
    expect(breach!.subject).toContain('SLA breached');
    expect(breach!.text).toContain('Priority raised from normal to high.');
    const escalated = await eventually(async () => {
      const t = await ticketNow(id);
      return t.sla?.firstResponse?.breachedAt ? t : undefined;
    }, 30_000);
    expect(escalated).toMatchObject({ priority: 'high', teamId: escalationTeam, updatedBy: 'system:sla' });
    expect(escalated.assigneeId).toBeUndefined();
    expect(escalated.sla.firstResponse).toMatchObject({ state: 'breached', outcome: 'breached' });

    const outcomes = await manager('GET', `/v1/sla-outcomes?month=${at(2).slice(0, 7)}`);
    expect(outcomes.status, outcomes.text).toBe(200);
    expect(outcomes.body.items.filter((o: { ticketId: string }) => o.ticketId === id)).toEqual([
      expect.objectContaining({ target: 'firstResponse', outcome: 'breached', dueAt: at(2) }),
    ]);
    // The next timer (the resolution's warning) is scheduled; one mail each so far.
    await eventually(async () => {
      const next = scheduleOf(id);
      return next && JSON.parse(next.Target.Input as string).target === 'resolution' ? next : undefined;
    }, 30_000);
    expect(await mailsTo('agent@slaops.example', number)).toHaveLength(1);
    expect(await mailsTo('lead2@slaops.example', number)).toHaveLength(1);
  });

  it('pauses the clock while the ticket waits on the customer: no due times, no timer, no breach', {
    timeout: 300_000,
  }, async ({ expect }) => {
    const created = await manager('POST', '/v1/tickets', {
      subject: 'Need your logs',
      requesterId,
      assigneeId: 'agent-1',
      teamId: frontTeam,
      status: 'pending',
    });
    expect(created.status, created.text).toBe(201);
    const { id, number, createdAt } = created.body;
    const sla = await eventually(async () => (await ticketNow(id)).sla, 60_000);
    expect(sla).toMatchObject({
      paused: true,
      firstResponseDueAt: null,
      resolutionDueAt: null,
      firstResponse: { state: 'paused' },
    });
    expect(scheduleOf(id)).toBeUndefined();
    // Past the first-response target (and several Scheduler polls): nothing fired.
    const wait = Date.parse(createdAt) + 2.5 * 60_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const still = await ticketNow(id);
    expect(still).toMatchObject({ priority: 'normal', teamId: frontTeam, assigneeId: 'agent-1' });
    expect(still.sla.firstResponse.breachedAt).toBeUndefined();
    expect(await mailsTo('agent@slaops.example', number)).toEqual([]);

    // Back to open: the clock runs again from where it stopped (it never ran: due 2 minutes from now).
    const reopened = await manager('PATCH', `/v1/tickets/${id}`, { status: 'open' });
    expect(reopened.status, reopened.text).toBe(200);
    const resumed = await eventually(async () => {
      const t = await ticketNow(id);
      return t.sla?.paused === false ? t : undefined;
    }, 60_000);
    const [span] = resumed.slaPauses.spans;
    expect(span.from).toBe(createdAt);
    expect(resumed.sla.firstResponseDueAt).toBe(new Date(Date.parse(span.to) + 2 * 60_000).toISOString());
    await eventually(async () => scheduleOf(id), 30_000);
  });
});

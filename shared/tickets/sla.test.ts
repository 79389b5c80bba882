import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { LocalScheduler } from '../../infra/local/scheduler.ts';
import { LocalSes } from '../../infra/local/ses.ts';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import type { Principal } from '../auth/principal.ts';

/**
 * The ticket SLA workflow against the real local parts: DynamoDB Local, the local EventBridge Scheduler (schedules
 * made, moved and deleted; none fires here: the timer is called with a clock set past its time) and the local SES
 * outbox. The whole chain (stream, bus, Scheduler firing the timer) runs in test/whole-stack-sla.test.ts.
 */
type Sla = typeof import('./sla.ts');
let sla: Sla;
let tickets: typeof import('./service.ts');
let slaService: typeof import('../sla/service.ts');
let outcomes: typeof import('../sla/outcomes.ts');
let model: typeof import('../db/store.ts').model;
let sendTextEmail: typeof import('../mail/send-text.ts').sendTextEmail;
let scheduler: LocalScheduler;
let schedulerClient: SchedulerClient;
let ses: LocalSes;
let sesClient: SESv2Client;
let dataDir: string;

const GROUP = 'ticket-sla-test';
const TARGET = 'arn:aws:lambda:us-east-1:000000000000:function:sla-timer';
const ROLE = 'arn:aws:iam::000000000000:role/sla-scheduler';
const tenant = uniqueTenant('sla');
const agent: Principal = { tenantId: tenant, userId: 'agent-1', roles: ['support'] };
let requesterId: string;
let frontTeam: string;
let escalationTeam: string;
let policyId: string;

async function putUser(userId: string, email: string, name: string) {
  const now = new Date().toISOString();
  await model.entities.user
    .put({
      tenantId: tenant,
      userId,
      email,
      name,
      roles: ['support'],
      timeZone: 'Europe/London',
      status: 'active',
      sortName: name.toLowerCase(),
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}

beforeAll(async () => {
  await useFreshTable();
  sla = await import('./sla.ts');
  tickets = await import('./service.ts');
  slaService = await import('../sla/service.ts');
  outcomes = await import('../sla/outcomes.ts');
  model = (await import('../db/store.ts')).model;
  sendTextEmail = (await import('../mail/send-text.ts')).sendTextEmail;
  const teams = await import('../teams/service.ts');
  const contacts = await import('../contacts/service.ts');
  dataDir = await mkdtemp(join(tmpdir(), 'ticket-sla-'));
  scheduler = await LocalScheduler.start({
    dataDir,
    invoker: {
      has: () => true,
      invoke: async () => {
        throw new Error('no schedule of this suite is due');
      },
    },
    pollIntervalMs: 3_600_000,
    log: () => {},
  });
  const aws = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  schedulerClient = new SchedulerClient({ ...aws, endpoint: scheduler.endpoint });
  await schedulerClient.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  ses = await LocalSes.start({ log: () => {} });
  sesClient = new SESv2Client({ ...aws, endpoint: ses.endpoint });

  await putUser('agent-1', 'agent@support.example', 'Ada Agent');
  await putUser('lead-1', 'lead1@support.example', 'Lena Lead');
  await putUser('lead-2', 'lead2@support.example', 'Lars Escalation');
  frontTeam = (await teams.createTeam(agent, { name: 'Front line', leadUserId: 'lead-1' })).id;
  escalationTeam = (await teams.createTeam(agent, { name: 'Second line', leadUserId: 'lead-2' })).id;
  requesterId = (await contacts.createContact(agent, makeContact() as never)).id as string;
  const allWeek = Object.fromEntries(
    ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ start: '00:00', end: '24:00' }]]),
  );
  const calendar = await slaService.createBusinessCalendar(agent, {
    name: '24x7',
    timeZone: 'UTC',
    weeklyHours: allWeek as never,
    holidays: [],
  });
  const t = (firstResponseMinutes: number, resolutionMinutes: number) => ({ firstResponseMinutes, resolutionMinutes });
  policyId = (
    await slaService.createSlaPolicy(agent, {
      name: 'Standard',
      calendarId: calendar.id,
      targets: { low: t(120, 480), normal: t(60, 240), high: t(30, 120), urgent: t(15, 60) },
      warnBeforeMinutes: 15,
      escalation: { reassignToTeamId: escalationTeam, raisePriority: true, notifyTeamLead: true },
    })
  ).id;
});

afterAll(async () => {
  schedulerClient?.destroy();
  sesClient?.destroy();
  await scheduler?.stop();
  await ses?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const minutes = (n: number) => n * 60_000;
const clockAt = (iso: string, ms: number) => () => new Date(Date.parse(iso) + ms);
const syncDeps = (now: () => Date) => ({
  schedules: { scheduler: schedulerClient, groupName: GROUP, targetArn: TARGET, roleArn: ROLE },
  now,
});
const timerDeps = (now: () => Date) => ({
  now,
  sendEmail: (mail: { to: string; subject: string; text: string }) => sendTextEmail(sesClient, 'sla@crm.local', mail),
});
const scheduleOf = async (ticketId: string) =>
  scheduler.get(sla.slaScheduleName(tenant, ticketId), GROUP) &&
  (await schedulerClient.send(
    new GetScheduleCommand({ Name: sla.slaScheduleName(tenant, ticketId), GroupName: GROUP }),
  ));
const mailsAbout = async (number: string, to: string) =>
  (await ses.sentEmails()).filter((m) => m.to.includes(to) && m.subject.includes(`${number} `));
const stored = async (ticketId: string) => (await tickets.readTicket(tenant, ticketId))!;

describe('syncTicketSla and handleSlaTimer', () => {
  it('computes due times, warns the assignee, escalates on breach, and records outcomes', async () => {
    const ticket = await tickets.createTicket(agent, {
      subject: 'Printer on fire',
      requesterId,
      assigneeId: 'agent-1',
      teamId: frontTeam,
    });
    const created = ticket.createdAt;
    // The tenant's first policy is its default: a ticket naming none counts by it.
    const first = await sla.syncTicketSla(syncDeps(clockAt(created, 0)), tenant, ticket.id);
    expect(first).toMatchObject({
      written: true,
      schedule: 'created',
      timer: { target: 'firstResponse', kind: 'warning' },
    });
    const at = (m: number) => new Date(Date.parse(created) + minutes(m)).toISOString();
    expect((await stored(ticket.id)).sla).toMatchObject({
      policyId,
      priority: 'normal',
      firstResponseDueAt: at(60),
      firstResponseWarnAt: at(45),
      resolutionDueAt: at(240),
      resolutionWarnAt: at(225),
      paused: false,
      firstResponse: { state: 'running' },
      resolution: { state: 'running' },
    });
    const schedule = await scheduleOf(ticket.id);
    expect(schedule).toMatchObject({ ActionAfterCompletion: 'DELETE', Target: { Arn: TARGET, RoleArn: ROLE } });
    expect(JSON.parse(schedule!.Target!.Input!)).toEqual({
      kind: 'ticket.sla_timer',
      tenantId: tenant,
      ticketId: ticket.id,
      target: 'firstResponse',
      timer: 'warning',
      at: at(45),
    });
    // Its own echo is ignored, and a recompute that changes nothing writes nothing.
    expect(
      sla.slaTicketOf('ticket.updated', { tenantId: tenant, entityId: ticket.id, changedFields: ['sla', 'version'] }),
    ).toBeUndefined();
    expect(await sla.syncTicketSla(syncDeps(clockAt(created, minutes(1))), tenant, ticket.id)).toMatchObject({
      written: false,
      schedule: 'unchanged',
    });

    // The warning: the assignee is mailed once, and the warning is marked on the ticket.
    const warned = await sla.handleSlaTimer(timerDeps(clockAt(created, minutes(46))), {
      tenantId: tenant,
      ticketId: ticket.id,
    });
    expect(warned).toEqual({ handled: ['firstResponse.warning'], mailed: ['agent@support.example'] });
    const [warning] = await mailsAbout(ticket.number, 'agent@support.example');
    expect(warning!.subject).toContain('SLA warning');
    expect(warning!.text).toContain('first response is due');
    expect((await stored(ticket.id)).sla!.firstResponse).toMatchObject({ state: 'warning', warnedAt: at(46) });
    // A stale or repeated timer does nothing.
    expect(
      await sla.handleSlaTimer(timerDeps(clockAt(created, minutes(47))), { tenantId: tenant, ticketId: ticket.id }),
    ).toMatchObject({ handled: [], reason: 'nothing_due' });
    expect(await mailsAbout(ticket.number, 'agent@support.example')).toHaveLength(1);
    expect(await sla.syncTicketSla(syncDeps(clockAt(created, minutes(47))), tenant, ticket.id)).toMatchObject({
      timer: { target: 'firstResponse', kind: 'breach', at: at(60) },
      schedule: 'updated',
    });

    // The breach: outcome, priority raised, moved to the escalation team (agent unassigned), its lead mailed.
    const breached = await sla.handleSlaTimer(timerDeps(clockAt(created, minutes(61))), {
      tenantId: tenant,
      ticketId: ticket.id,
    });
    expect(breached).toEqual({ handled: ['firstResponse.breach'], mailed: ['lead2@support.example'] });
    const escalated = await stored(ticket.id);
    expect(escalated).toMatchObject({ priority: 'high', teamId: escalationTeam, updatedBy: 'system:sla' });
    expect(escalated.assigneeId).toBeUndefined();
    expect(escalated.sla).toMatchObject({
      priority: 'normal',
      escalatedPriority: 'high',
      firstResponse: { state: 'breached', breachedAt: at(61), outcome: 'breached' },
    });
    const [leadMail] = await mailsAbout(ticket.number, 'lead2@support.example');
    expect(leadMail!.subject).toContain('SLA breached');
    expect(leadMail!.text).toContain('Priority raised from normal to high.');
    expect(leadMail!.text).toContain(`Moved to team ${escalationTeam} and unassigned.`);
    const month = at(60).slice(0, 7);
    const recorded = await outcomes.listSlaOutcomes(agent, { month, limit: 100 });
    expect(recorded.items.filter((o) => o.ticketId === ticket.id)).toEqual([
      expect.objectContaining({ target: 'firstResponse', outcome: 'breached', dueAt: at(60), priority: 'normal' }),
    ]);
    // The escalation's own raise does not shorten the targets it escalated: the resolution is still due at 240.
    const next = await sla.syncTicketSla(syncDeps(clockAt(created, minutes(62))), tenant, ticket.id);
    expect(next.timer).toEqual({ target: 'resolution', kind: 'warning', at: at(225) });
    expect((await stored(ticket.id)).sla!.resolutionDueAt).toBe(at(240));

    // Solved in time: the resolution is achieved and recorded, and no timer is left.
    await tickets.patchTicket(agent, ticket.id, { status: 'solved' });
    const done = await sla.syncTicketSla(syncDeps(clockAt(created, minutes(63))), tenant, ticket.id);
    expect(done).toMatchObject({ written: true, schedule: 'deleted' });
    expect(done.timer).toBeUndefined();
    expect((await stored(ticket.id)).sla!.resolution).toMatchObject({ state: 'achieved', outcome: 'achieved' });
    const all = await outcomes.listSlaOutcomes(agent, { month: new Date().toISOString().slice(0, 7), limit: 100 });
    expect(all.items.filter((o) => o.ticketId === ticket.id && o.target === 'resolution')).toEqual([
      expect.objectContaining({ outcome: 'achieved', dueAt: at(240) }),
    ]);
    expect(await scheduleOf(ticket.id)).toBeFalsy();
  });

  it('mails the team lead when the ticket is unassigned', async () => {
    const ticket = await tickets.createTicket(agent, { subject: 'No owner', requesterId, teamId: frontTeam });
    await sla.syncTicketSla(syncDeps(clockAt(ticket.createdAt, 0)), tenant, ticket.id);
    const warned = await sla.handleSlaTimer(timerDeps(clockAt(ticket.createdAt, minutes(50))), {
      tenantId: tenant,
      ticketId: ticket.id,
    });
    expect(warned.mailed).toEqual(['lead1@support.example']);
  });

  it('pauses while pending: no due time for unmet targets, no timer, no breach; the wait does not count', async () => {
    const ticket = await tickets.createTicket(agent, {
      subject: 'Waiting on you',
      requesterId,
      assigneeId: 'agent-1',
      teamId: frontTeam,
      slaPolicyId: policyId,
    });
    const created = ticket.createdAt;
    await sla.syncTicketSla(syncDeps(clockAt(created, 0)), tenant, ticket.id);
    expect(await scheduleOf(ticket.id)).toBeTruthy();
    await tickets.patchTicket(agent, ticket.id, { status: 'pending' });
    const pausedAt = (await stored(ticket.id)).slaPauses!.spans[0]!.from;
    const paused = await sla.syncTicketSla(syncDeps(clockAt(created, minutes(1))), tenant, ticket.id);
    expect(paused).toMatchObject({ schedule: 'deleted' });
    expect(paused.timer).toBeUndefined();
    expect((await stored(ticket.id)).sla).toMatchObject({
      paused: true,
      firstResponseDueAt: null,
      resolutionDueAt: null,
      firstResponse: { state: 'paused' },
      resolution: { state: 'paused' },
    });
    // Long past every target: a timer firing now (stale) finds nothing due.
    const late = await sla.handleSlaTimer(timerDeps(clockAt(created, minutes(600))), {
      tenantId: tenant,
      ticketId: ticket.id,
    });
    expect(late).toMatchObject({ handled: [], reason: 'nothing_due' });
    expect((await stored(ticket.id)).priority).toBe('normal');

    await tickets.patchTicket(agent, ticket.id, { status: 'open' });
    const resumed = await stored(ticket.id);
    const span = resumed.slaPauses!.spans[0]!;
    expect(span.from).toBe(pausedAt);
    await sla.syncTicketSla(syncDeps(clockAt(created, minutes(2))), tenant, ticket.id);
    const wait = Date.parse(span.to!) - Date.parse(span.from);
    expect((await stored(ticket.id)).sla!.firstResponseDueAt).toBe(
      new Date(Date.parse(created) + minutes(60) + wait).toISOString(),
    );
  });

  it('escalates without moving the ticket when the escalation team was deleted since', async () => {
    const teams = await import('../teams/service.ts');
    const doomed = (await teams.createTeam(agent, { name: 'Disbanded', leadUserId: 'lead-2' })).id;
    const base = await slaService.getSlaPolicy(agent, policyId);
    const strict = await slaService.createSlaPolicy(agent, {
      name: 'Strict',
      calendarId: base.calendarId,
      targets: base.targets,
      warnBeforeMinutes: 0,
      escalation: { reassignToTeamId: doomed, raisePriority: true, notifyTeamLead: false },
    });
    await teams.deleteTeam(agent, doomed);
    const ticket = await tickets.createTicket(agent, {
      subject: 'Nobody to escalate to',
      requesterId,
      assigneeId: 'agent-1',
      teamId: frontTeam,
      slaPolicyId: strict.id,
    });
    await sla.syncTicketSla(syncDeps(clockAt(ticket.createdAt, 0)), tenant, ticket.id);
    const result = await sla.handleSlaTimer(timerDeps(clockAt(ticket.createdAt, minutes(61))), {
      tenantId: tenant,
      ticketId: ticket.id,
    });
    expect(result.handled).toEqual(['firstResponse.breach']);
    expect(await stored(ticket.id)).toMatchObject({ priority: 'high', teamId: frontTeam, assigneeId: 'agent-1' });
  });

  it('refuses a ticket naming an SLA policy that does not exist', async () => {
    await expect(
      tickets.createTicket(agent, { subject: 'Bad policy', requesterId, slaPolicyId: '01J00000000000000000000000' }),
    ).rejects.toMatchObject({ status: 400, code: 'ticket.slaPolicy_not_found' });
  });

  it('keeps no SLA and no timer for a deleted ticket', async () => {
    const ticket = await tickets.createTicket(agent, { subject: 'Gone soon', requesterId });
    await sla.syncTicketSla(syncDeps(clockAt(ticket.createdAt, 0)), tenant, ticket.id);
    await tickets.deleteTicket(agent, ticket.id);
    expect(await sla.syncTicketSla(syncDeps(clockAt(ticket.createdAt, 0)), tenant, ticket.id)).toMatchObject({
      schedule: 'deleted',
    });
    expect(
      await sla.handleSlaTimer(timerDeps(clockAt(ticket.createdAt, minutes(100))), {
        tenantId: tenant,
        ticketId: ticket.id,
      }),
    ).toMatchObject({ reason: 'ticket_gone' });
  });
});

import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../infra/local/cloud.ts';
import { atExpression, scheduleName } from '../shared/activities/reminders.ts';
import { createModel } from '../shared/db/model.ts';
import { CLOUD_START_TIMEOUT_MS } from './support/assembly.ts';
import { makeContact } from './support/factories.ts';
import { api, eventually, startTestCloud } from './support/local-cloud.ts';

/**
 * Follow-up reminders across the whole local cloud: API → table → stream → bus → schedule consumer → EventBridge
 * Scheduler (one-time at() schedule) → reminder Lambda → SES outbox, and remindedAt → stream → `task.due` on the bus.
 */
let cloud: LocalCloud;
let rep: ReturnType<typeof api>;
const TENANT = 'remind';
const USER = 'ada';

beforeAll(async () => {
  cloud = await startTestCloud();
  rep = api(cloud, await cloud.token({ tenantId: TENANT, roles: ['sales'], userId: USER }));
  // The assignee's profile (what POST /v1/users keeps): where the reminder goes, and in which time zone.
  const model = createModel({ table: cloud.tableName, client: DynamoDBDocumentClient.from(cloud.dynamo.client) });
  const now = new Date().toISOString();
  await model.entities.user
    .put({
      tenantId: TENANT,
      userId: USER,
      email: 'ada@engines.example',
      name: 'Ada Lovelace',
      roles: ['sales'],
      timeZone: 'Europe/Paris',
      status: 'active',
      sortName: 'ada lovelace',
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
  // Cold starts of the functions used below: on 2 busy cores (another whole-stack file starting its own cloud) a
  // first invocation can pass the API functions' 10-second timeout. Warm them before timing anything.
  for (const path of ['/v1/contacts', '/v1/activities']) {
    await eventually(async () => ((await rep('GET', path)).status === 200 ? true : undefined), 90_000);
  }
}, CLOUD_START_TIMEOUT_MS);

afterAll(async () => {
  await cloud?.stop();
});

const reminderSchedule = (taskId: string) =>
  cloud.scheduler.list().find((s) => s.Name === scheduleName(TENANT, taskId));
const mailsAbout = async (title: string) =>
  (await cloud.ses.sentEmails()).filter((m) => m.to.includes('ada@engines.example') && m.subject.includes(title));
const taskDue = (taskId: string) =>
  cloud.events
    .recentEvents()
    .filter((e) => e['detail-type'] === 'task.due' && (e.detail as { taskId?: string }).taskId === taskId);

async function newTask(title: string, dueInMs: number) {
  const contact = await rep('POST', '/v1/contacts', makeContact());
  expect(contact.status).toBe(201);
  const dueAt = new Date(Date.now() + dueInMs).toISOString();
  const task = await rep('POST', '/v1/activities', {
    type: 'task',
    title,
    dueAt,
    reminderOffsetMinutes: 0,
    links: [{ type: 'contact', id: contact.body.id }],
  });
  expect(task.status, JSON.stringify(task.body)).toBe(201);
  return task.body as { id: string; dueAt: string; version: number };
}

describe('task reminders in the local cloud', () => {
  it('a task due in a few seconds mails its assignee through SES and publishes task.due', {
    timeout: 120_000,
  }, async () => {
    const task = await newTask('Call Babbage back', 12_000);
    // The schedule consumer created a one-time schedule for the due time, in the reminders group.
    const schedule = await eventually(async () => reminderSchedule(task.id), 30_000);
    // At the due time; on a loaded machine the schedule may only be made after it passed, then it fires at once.
    const instantOf = (expression: string) => Date.parse(`${expression.slice(3, -1)}Z`);
    const at = instantOf(schedule.ScheduleExpression);
    expect(at).toBeGreaterThanOrEqual(instantOf(atExpression(Date.parse(task.dueAt))));
    expect(at).toBeLessThan(Date.parse(task.dueAt) + 60_000);
    expect(schedule.ScheduleExpressionTimezone).toBe('UTC');
    expect(schedule.ActionAfterCompletion).toBe('DELETE');
    expect(schedule.GroupName).toMatch(/-task-reminders$/);
    expect(schedule.Target.Arn).toMatch(/^arn:aws:lambda:/);

    const [mail] = await eventually(async () => {
      const mails = await mailsAbout('Call Babbage back');
      return mails.length > 0 ? mails : undefined;
    }, 60_000);
    expect(mail!.subject).toContain('Reminder: Call Babbage back');
    expect(mail!.text).toContain('Hello Ada Lovelace,');
    // Rendered in the assignee's zone (Paris: CET/CEST, shown as GMT+1 or GMT+2).
    expect(mail!.text).toMatch(/GMT\+[12]|CES?T/);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(task.dueAt));

    const [due] = await eventually(async () => {
      const events = taskDue(task.id);
      return events.length > 0 ? events : undefined;
    }, 30_000);
    expect(due!.source).toBe('crm.activities');
    expect(due!.detail).toMatchObject({
      tenantId: TENANT,
      taskId: task.id,
      title: 'Call Babbage back',
      assigneeId: USER,
      dueAt: task.dueAt,
    });

    const stored = await rep('GET', `/v1/activities/${task.id}`);
    expect(stored.body.remindedAt).toBe((due!.detail as { remindedAt: string }).remindedAt);
    // One-time: Scheduler deleted it after it fired; one mail only.
    await eventually(async () => (reminderSchedule(task.id) ? undefined : true), 10_000);
    expect(await mailsAbout('Call Babbage back')).toHaveLength(1);
  });

  it('completing a task before its time deletes its schedule, and nothing is sent', { timeout: 120_000 }, async () => {
    const task = await newTask('Send Lovelace the notes', 15_000);
    await eventually(async () => reminderSchedule(task.id), 30_000);
    const done = await rep('POST', `/v1/activities/${task.id}/complete`, undefined, {
      'if-match': `"${task.version}"`,
    });
    expect(done.status).toBe(200);
    await eventually(async () => (reminderSchedule(task.id) ? undefined : true), 30_000);
    // Past the due time (and a poll of the scheduler), still nothing.
    const wait = Date.parse(task.dueAt) + 4_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    expect(await mailsAbout('Send Lovelace the notes')).toEqual([]);
    expect(taskDue(task.id)).toEqual([]);
    expect((await rep('GET', `/v1/activities/${task.id}`)).body.remindedAt).toBeUndefined();
  });

  it('serves the calendar feed over HTTP without a bearer token, behind its secret only', {
    timeout: 60_000,
  }, async () => {
    const created = await rep('POST', '/v1/me/calendar-feed');
    expect(created.status).toBe(201);
    const response = await fetch(`${cloud.apiUrl}${created.body.path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(response.headers.get('etag')).toMatch(/^"[\w-]{27}"$/);
    const body = await response.text();
    expect(body.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
    expect(body).toContain('BEGIN:VTODO');
    expect((await rep('DELETE', '/v1/me/calendar-feed')).status).toBe(204);
    expect((await fetch(`${cloud.apiUrl}${created.body.path}`)).status).toBe(404);
  });
});

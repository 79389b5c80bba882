import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../infra/local/dynamodb-local.ts';
import { LocalScheduler } from '../../infra/local/scheduler.ts';
import { LocalSes } from '../../infra/local/ses.ts';
import { makeContact, uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import type { Principal } from '../auth/principal.ts';

/**
 * The two reminder jobs against the real local parts: DynamoDB Local, the local EventBridge Scheduler (schedules
 * created, moved and deleted; none fires here, their times are hours away) and the local SES outbox.
 */
type Service = typeof import('./service.ts');
type Jobs = typeof import('./reminder-jobs.ts');
let service: Service;
let jobs: Jobs;
let findUser: typeof import('../users/directory.ts').findUser;
let model: typeof import('../db/store.ts').model;
let createContact: typeof import('../contacts/service.ts').createContact;
let scheduler: LocalScheduler;
let schedulerClient: SchedulerClient;
let ses: LocalSes;
let sesClient: SESv2Client;
let dataDir: string;

const GROUP = 'task-reminders-test';
const TARGET = 'arn:aws:lambda:us-east-1:000000000000:function:task-reminder';
const ROLE = 'arn:aws:iam::000000000000:role/reminder-scheduler';
const tenant = uniqueTenant('rem');
const rep: Principal = { tenantId: tenant, userId: 'rep-1', roles: ['sales'] };
const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

beforeAll(async () => {
  await useFreshTable();
  service = await import('./service.ts');
  jobs = await import('./reminder-jobs.ts');
  findUser = (await import('../users/directory.ts')).findUser;
  model = (await import('../db/store.ts')).model;
  createContact = (await import('../contacts/service.ts')).createContact;
  dataDir = await mkdtemp(join(tmpdir(), 'reminders-'));
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
});

afterAll(async () => {
  schedulerClient?.destroy();
  sesClient?.destroy();
  await scheduler?.stop();
  await ses?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function newTask(overrides: Record<string, unknown> = {}) {
  const contact = await createContact(rep, makeContact() as never);
  return service.createActivity(rep, {
    type: 'task',
    title: 'Send the quote',
    dueAt: inHours(2),
    links: [{ type: 'contact', id: contact.id as string }],
    ...overrides,
  } as never);
}

const syncDeps = () => ({
  scheduler: schedulerClient,
  groupName: GROUP,
  targetArn: TARGET,
  roleArn: ROLE,
  readTask: service.readActivity,
});

describe('syncReminderSchedule', () => {
  it('creates a one-time UTC schedule that deletes itself, moves it on reschedule, and deletes it on completion', async () => {
    const task = await newTask({ reminderOffsetMinutes: 30 });
    const sync = () => jobs.syncReminderSchedule(syncDeps(), tenant, task.id);
    expect(await sync()).toBe('created');
    const name = (await import('./reminders.ts')).scheduleName(tenant, task.id);
    const stored = await schedulerClient.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));
    const remindAt = new Date(Date.parse(task.dueAt!) - 30 * 60_000);
    expect(stored).toMatchObject({
      ScheduleExpression: `at(${new Date(Math.ceil(remindAt.getTime() / 1000) * 1000).toISOString().slice(0, 19)})`,
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: { Arn: TARGET, RoleArn: ROLE },
    });
    expect(JSON.parse(stored.Target!.Input!)).toEqual({
      tenantId: tenant,
      taskId: task.id,
      dueAt: task.dueAt,
      remindAt: remindAt.toISOString(),
    });
    // Handling the same change again (a retried or duplicate event) changes nothing.
    expect(await sync()).toBe('unchanged');

    const later = inHours(5);
    await service.patchActivity(rep, task.id, { dueAt: later });
    expect(await sync()).toBe('updated');
    const moved = await schedulerClient.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));
    expect(JSON.parse(moved.Target!.Input!).dueAt).toBe(later);

    await service.completeTask(rep, task.id);
    expect(await sync()).toBe('deleted');
    expect(scheduler.get(name, GROUP)).toBeUndefined();
    expect(await sync()).toBe('absent');
  });

  it('keeps no schedule for tasks without a due time, deleted tasks, or other activities', async () => {
    const undated = await newTask({ dueAt: undefined });
    expect(await jobs.syncReminderSchedule(syncDeps(), tenant, undated.id)).toBe('absent');
    const dated = await newTask();
    expect(await jobs.syncReminderSchedule(syncDeps(), tenant, dated.id)).toBe('created');
    await service.deleteActivity(rep, dated.id);
    expect(await jobs.syncReminderSchedule(syncDeps(), tenant, dated.id)).toBe('deleted');
    expect(await jobs.syncReminderSchedule(syncDeps(), tenant, 'no-such-task')).toBe('absent');
  });
});

describe('sendTaskReminder', () => {
  const userId = 'assignee-1';
  beforeAll(async () => {
    const now = new Date().toISOString();
    await model.entities.user
      .put({
        tenantId: tenant,
        userId,
        email: 'ada@example.com',
        name: 'Ada Lovelace',
        roles: ['sales'],
        timeZone: 'Europe/London',
        status: 'active',
        sortName: 'ada lovelace',
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
  });

  const deps = (): Parameters<Jobs['sendTaskReminder']>[0] => ({
    readTask: service.readActivity,
    findUser,
    markReminded: service.markReminded,
    sendEmail: async ({ to, subject, text }) => {
      await sesClient.send(
        new SendEmailCommand({
          FromEmailAddress: 'reminders@crm.local',
          Destination: { ToAddresses: [to] },
          Content: { Simple: { Subject: { Data: subject }, Body: { Text: { Data: text } } } },
        }),
      );
    },
  });
  const inputOf = (task: { id: string; dueAt?: string | undefined }, offsetMinutes = 0) => ({
    tenantId: tenant,
    taskId: task.id,
    dueAt: task.dueAt!,
    remindAt: new Date(Date.parse(task.dueAt!) - offsetMinutes * 60_000).toISOString(),
  });
  const mailsTo = async (subjectPart: string) =>
    (await ses.sentEmails()).filter((m) => m.to.includes('ada@example.com') && m.subject.includes(subjectPart));

  it('mails the assignee once, in their time zone, and records remindedAt on a new version', async () => {
    const task = await newTask({ title: 'Quote for Babbage', assigneeId: userId, reminderOffsetMinutes: 15 });
    const outcome = await jobs.sendTaskReminder(deps(), inputOf(task, 15));
    expect(outcome).toEqual({ sent: true, to: 'ada@example.com' });
    const [mail, ...more] = await mailsTo('Quote for Babbage');
    expect(more).toEqual([]);
    expect(mail!.from).toBe('reminders@crm.local');
    expect(mail!.text).toContain('Hello Ada Lovelace,');
    expect(mail!.text).toMatch(/BST|GMT/);
    const stored = await service.readActivity(tenant, task.id);
    expect(stored).toMatchObject({ version: 2, updatedBy: 'system:reminders' });
    expect(Date.parse(stored!.remindedAt!)).toBeGreaterThan(0);
    // The schedule firing again (a retry) sends nothing more.
    expect(await jobs.sendTaskReminder(deps(), inputOf(task, 15))).toEqual({ sent: false, reason: 'already_reminded' });
    expect(await mailsTo('Quote for Babbage')).toHaveLength(1);
    // Rescheduling re-arms it.
    const rescheduled = await service.patchActivity(rep, task.id, { dueAt: inHours(3) });
    expect(rescheduled.remindedAt).toBeUndefined();
  });

  it('sends nothing for a task completed, rescheduled or deleted since, or whose assignee has no profile', async () => {
    const completed = await newTask({ title: 'Completed one', assigneeId: userId });
    await service.completeTask(rep, completed.id);
    expect(await jobs.sendTaskReminder(deps(), inputOf(completed))).toEqual({ sent: false, reason: 'not_open' });

    const moved = await newTask({ title: 'Moved one', assigneeId: userId });
    const before = inputOf(moved);
    await service.patchActivity(rep, moved.id, { dueAt: inHours(9) });
    expect(await jobs.sendTaskReminder(deps(), before)).toEqual({ sent: false, reason: 'rescheduled' });

    const deleted = await newTask({ title: 'Deleted one', assigneeId: userId });
    await service.deleteActivity(rep, deleted.id);
    expect(await jobs.sendTaskReminder(deps(), inputOf(deleted))).toEqual({ sent: false, reason: 'task_gone' });

    const now = new Date().toISOString();
    await model.entities.user
      .put({
        tenantId: tenant,
        userId: 'gone-user',
        email: 'ada@example.com',
        name: 'Former',
        roles: ['sales'],
        timeZone: 'UTC',
        status: 'disabled',
        sortName: 'former',
        version: 1,
        createdAt: now,
        updatedAt: now,
      })
      .go();
    const disabled = await newTask({ title: 'Disabled one', assigneeId: 'gone-user' });
    expect(await jobs.sendTaskReminder(deps(), inputOf(disabled))).toEqual({
      sent: false,
      reason: 'assignee_disabled',
    });

    const nobody = await newTask({ title: 'Nobody’s', assigneeId: 'no-profile' });
    expect(await jobs.sendTaskReminder(deps(), inputOf(nobody))).toEqual({ sent: false, reason: 'no_profile' });
    expect((await service.readActivity(tenant, nobody.id))?.remindedAt).toBeUndefined();

    for (const title of ['Completed one', 'Moved one', 'Deleted one', 'Disabled one', 'Nobody’s'])
      expect(await mailsTo(title)).toEqual([]);
  });
});

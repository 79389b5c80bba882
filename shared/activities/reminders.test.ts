import { describe, expect, it } from 'vitest';
import { reminderScheduleEventPattern } from '../../infra/constructs/reminders.ts';
import { matchesPattern } from '../../infra/local/event-pattern.ts';
import {
  atExpression,
  desiredSchedule,
  formatInZone,
  LATE_REMINDER_GRACE_MS,
  remindAtOf,
  reminderEmail,
  scheduleName,
} from './reminders.ts';
import type { StoredActivity } from './service.ts';

const NOW = Date.parse('2031-05-01T12:00:00.000Z');

function task(overrides: Partial<StoredActivity> = {}): StoredActivity {
  return {
    tenantId: 'acme',
    activityId: '01HZTASK',
    id: '01HZTASK',
    type: 'task',
    title: 'Send the quote',
    status: 'open',
    priority: 'high',
    ownerId: 'u1',
    assigneeId: 'u2',
    dueAt: '2031-05-01T15:00:00.000Z',
    occurredAt: '2031-05-01T10:00:00.000Z',
    links: [{ type: 'contact', id: 'c1' }],
    version: 1,
    createdAt: '2031-05-01T10:00:00.000Z',
    updatedAt: '2031-05-01T10:00:00.000Z',
    ...overrides,
  } as StoredActivity;
}

describe('reminder schedules', () => {
  it('names a schedule deterministically per tenant and task, within Scheduler’s 64 characters of [0-9a-zA-Z-_.]', () => {
    const name = scheduleName('acme', '01HZTASK');
    expect(name).toBe(scheduleName('acme', '01HZTASK'));
    expect(name).not.toBe(scheduleName('acme2', '01HZTASK'));
    expect(name).not.toBe(scheduleName('acme', '01HZTASK2'));
    expect(name).toMatch(/^[0-9a-zA-Z\-_.]{1,64}$/);
    expect(scheduleName('x'.repeat(64), 'y'.repeat(64))).toHaveLength(name.length);
  });

  it('wants a one-time at() schedule at dueAt minus the offset, in UTC', () => {
    expect(desiredSchedule('acme', task(), NOW)).toEqual({
      name: scheduleName('acme', '01HZTASK'),
      expression: 'at(2031-05-01T15:00:00)',
      input: {
        tenantId: 'acme',
        taskId: '01HZTASK',
        dueAt: '2031-05-01T15:00:00.000Z',
        remindAt: '2031-05-01T15:00:00.000Z',
      },
    });
    const early = desiredSchedule('acme', task({ reminderOffsetMinutes: 90 }), NOW);
    expect(early?.expression).toBe('at(2031-05-01T13:30:00)');
    expect(early?.input.remindAt).toBe('2031-05-01T13:30:00.000Z');
    expect(remindAtOf(task({ dueAt: undefined }))).toBeUndefined();
  });

  it('wants none for a task that is deleted, not open, undated, already reminded, or long past', () => {
    for (const gone of [
      undefined,
      task({ deletedAt: '2031-05-01T11:00:00.000Z' }),
      task({ status: 'completed' }),
      task({ status: 'cancelled' }),
      task({ dueAt: undefined }),
      task({ remindedAt: '2031-05-01T11:00:00.000Z' }),
      task({ type: 'call' }),
      task({ dueAt: new Date(NOW - LATE_REMINDER_GRACE_MS - 1000).toISOString() }),
    ]) {
      expect(desiredSchedule('acme', gone, NOW)).toBeUndefined();
    }
  });

  it('fires a reminder that is just due a moment from now, rounded up to the next second', () => {
    const due = task({ dueAt: new Date(NOW - 60_000).toISOString() });
    expect(desiredSchedule('acme', due, NOW)?.expression).toBe('at(2031-05-01T12:00:02)');
    expect(atExpression(Date.parse('2031-05-01T12:00:00.001Z'))).toBe('at(2031-05-01T12:00:01)');
    expect(atExpression(Date.parse('2031-05-01T12:00:00.000Z'))).toBe('at(2031-05-01T12:00:00)');
  });
});

describe('reminder mail', () => {
  it("renders the due time in the assignee's time zone, with the task's details", () => {
    const mail = reminderEmail(task({ notes: 'Bring numbers' }), { name: 'Ada', timeZone: 'Asia/Tokyo' });
    expect(mail.subject).toContain('Reminder: Send the quote');
    expect(mail.text).toContain('Hello Ada,');
    expect(mail.text).toMatch(/Friday(,)? 2 May 2031( at|,) 00:00/);
    expect(mail.text).toContain('Priority: high.');
    expect(mail.text).toContain('Bring numbers');
    expect(mail.text).toContain('- contact c1');
  });

  it('falls back to UTC for a time zone this runtime does not know', () => {
    expect(formatInZone('2031-05-01T15:00:00.000Z', 'Mars/Olympus')).toContain('15:00');
    expect(formatInZone('2031-05-01T15:00:00.000Z', 'Europe/Paris')).toContain('17:00');
  });
});

describe('the schedule consumer’s rule', () => {
  // The CDK form (detailType) as the template has it (detail-type).
  const { detailType, ...rest } = reminderScheduleEventPattern();
  const pattern = { ...rest, 'detail-type': detailType };
  const event = (detailType: string, detail: unknown) => ({
    source: 'crm.activities',
    'detail-type': detailType,
    detail,
  });

  it('takes task changes, including claim-checked ones, and leaves calls, meetings and emails out', () => {
    expect(matchesPattern(pattern, event('activity.created', { record: { type: 'task' } }))).toBe(true);
    expect(matchesPattern(pattern, event('activity.deleted', { record: { type: 'task' } }))).toBe(true);
    expect(matchesPattern(pattern, event('activity.updated', { record: { $claimCheck: { key: 'k' } } }))).toBe(true);
    expect(matchesPattern(pattern, event('activity.updated', { $claimCheck: { key: 'k' } }))).toBe(true);
    for (const type of ['call', 'meeting', 'email']) {
      expect(matchesPattern(pattern, event('activity.created', { record: { type } }))).toBe(false);
    }
    expect(matchesPattern(pattern, event('task.due', { record: { type: 'task' } }))).toBe(false);
  });
});

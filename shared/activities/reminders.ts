import { atExpression, hashedScheduleName } from '../scheduling/one-time.ts';
import type { StoredActivity } from './service.ts';

/**
 * Follow-up reminders. A task that is live, open, due at a time and not yet reminded has exactly one one-time
 * EventBridge Scheduler schedule, named after tenant and task so every writer agrees on it. The schedule consumer
 * (functions/events/task-reminder-schedule.ts) keeps it in step from the task's change events; the reminder
 * (functions/scheduled/task-reminder.ts) re-checks the task when it fires, so a stale schedule sends nothing.
 */

/** A reminder whose time passed at most this long ago is still sent (at once); older ones are dropped. */
export const LATE_REMINDER_GRACE_MS = 15 * 60_000;
/** How soon a reminder that is already due fires: Scheduler's at() has second precision. */
const IMMEDIATE_MS = 2_000;

/** What the schedule hands the reminder: enough to tell whether it still applies when it fires. */
export interface ReminderInput {
  tenantId: string;
  taskId: string;
  dueAt: string;
  remindAt: string;
}

export interface DesiredSchedule {
  name: string;
  /** `at(yyyy-mm-ddThh:mm:ss)` in UTC. */
  expression: string;
  input: ReminderInput;
}

/** 'task-reminder-' + 40 hex characters of SHA-256(tenant/task): within Scheduler's 64 characters, any tenant id. */
export function scheduleName(tenantId: string, taskId: string): string {
  return hashedScheduleName('task-reminder', tenantId, taskId);
}

export function remindAtOf(task: Pick<StoredActivity, 'dueAt' | 'reminderOffsetMinutes'>): string | undefined {
  if (!task.dueAt) return undefined;
  return new Date(Date.parse(task.dueAt) - (task.reminderOffsetMinutes ?? 0) * 60_000).toISOString();
}

/** Whether a task still wants a reminder at all (what the reminder re-checks when it fires). */
export function wantsReminder(task: StoredActivity | undefined): task is StoredActivity & { dueAt: string } {
  return (
    task !== undefined &&
    !task.deletedAt &&
    task.type === 'task' &&
    task.status === 'open' &&
    task.dueAt !== undefined &&
    task.remindedAt === undefined
  );
}

export { atExpression };

/** The schedule a task should have now, or undefined when it should have none. */
export function desiredSchedule(
  tenantId: string,
  task: StoredActivity | undefined,
  now: number,
): DesiredSchedule | undefined {
  if (!wantsReminder(task)) return undefined;
  const remindAt = remindAtOf(task)!;
  const at = Date.parse(remindAt);
  if (at < now - LATE_REMINDER_GRACE_MS) return undefined;
  return {
    name: scheduleName(tenantId, task.activityId),
    expression: atExpression(Math.max(at, now + IMMEDIATE_MS)),
    input: { tenantId, taskId: task.activityId, dueAt: task.dueAt, remindAt },
  };
}

/** The reminder mail: the due time in the assignee's own time zone (UTC when theirs is unknown to this runtime). */
export function reminderEmail(
  task: Pick<StoredActivity, 'title' | 'subject' | 'dueAt' | 'notes' | 'priority' | 'links'>,
  user: { name: string; timeZone: string },
): { subject: string; text: string } {
  const title = task.title ?? task.subject ?? 'A task';
  const due = formatInZone(task.dueAt!, user.timeZone);
  const links = task.links.map((l) => `- ${l.type} ${l.id}`).join('\n');
  const text = [
    `Hello ${user.name},`,
    '',
    `"${title}" is due ${due}.`,
    ...(task.priority && task.priority !== 'normal' ? [`Priority: ${task.priority}.`] : []),
    ...(task.notes ? ['', task.notes] : []),
    ...(links ? ['', 'Linked to:', links] : []),
    '',
    'You get this mail because the task is assigned to you and still open.',
  ].join('\n');
  return { subject: `Reminder: ${title.slice(0, 150)} (due ${due})`, text };
}

export function formatInZone(iso: string, timeZone: string): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  };
  try {
    return new Intl.DateTimeFormat('en-GB', { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).format(new Date(iso));
  }
}

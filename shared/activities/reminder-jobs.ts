import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { PreconditionFailedError } from '../errors.ts';
import { applyOneTimeSchedule, type ScheduleOutcome } from '../scheduling/one-time.ts';
import type { UserProfile } from '../users/directory.ts';
import {
  type DesiredSchedule,
  desiredSchedule,
  type ReminderInput,
  remindAtOf,
  reminderEmail,
  scheduleName,
  wantsReminder,
} from './reminders.ts';
import type { StoredActivity } from './service.ts';

export type ReadTask = (tenantId: string, taskId: string) => Promise<StoredActivity | undefined>;

export interface ScheduleSyncDeps {
  scheduler: SchedulerClient;
  groupName: string;
  /** The reminder function, and the role Scheduler assumes to invoke it. */
  targetArn: string;
  roleArn: string;
  readTask: ReadTask;
  now?: () => number;
}

export type SyncOutcome = ScheduleOutcome;

const apply = (deps: ScheduleSyncDeps, name: string, desired: DesiredSchedule | undefined): Promise<SyncOutcome> =>
  applyOneTimeSchedule(deps, name, desired && { ...desired, description: `Reminder of task ${desired.input.taskId}` });

const sameInput = (a: DesiredSchedule | undefined, b: DesiredSchedule | undefined) =>
  JSON.stringify(a?.input) === JSON.stringify(b?.input);

/**
 * Brings a task's reminder schedule in line with the task as it is now (read from the table, not from the event, so
 * events handled out of order or twice converge on the same schedule). After writing, the task is read again: a
 * change that landed meanwhile (whose own event may already have been handled) is applied too.
 */
export async function syncReminderSchedule(
  deps: ScheduleSyncDeps,
  tenantId: string,
  taskId: string,
): Promise<SyncOutcome> {
  const now = deps.now ?? Date.now;
  const name = scheduleName(tenantId, taskId);
  let desired = desiredSchedule(tenantId, await deps.readTask(tenantId, taskId), now());
  let outcome: SyncOutcome = 'unchanged';
  for (let round = 0; round < 3; round++) {
    outcome = await apply(deps, name, desired);
    const again = desiredSchedule(tenantId, await deps.readTask(tenantId, taskId), now());
    if (sameInput(desired, again)) return outcome;
    desired = again;
  }
  return outcome;
}

export interface ReminderDeps {
  readTask: ReadTask;
  findUser: (tenantId: string, userId: string) => Promise<UserProfile | undefined>;
  sendEmail: (message: { to: string; subject: string; text: string }) => Promise<void>;
  /** Records `remindedAt` on the task (a conditional write on the version read); throws PreconditionFailedError. */
  markReminded: (task: StoredActivity, remindedAt: string) => Promise<void>;
  now?: () => Date;
}

export type ReminderOutcome =
  | { sent: true; to: string }
  | {
      sent: false;
      reason: 'task_gone' | 'not_open' | 'rescheduled' | 'already_reminded' | 'no_profile' | 'assignee_disabled';
    };

/** Whether the schedule that fired still describes the task: same due time and reminder time, still open. */
function stillApplies(task: StoredActivity | undefined, input: ReminderInput): ReminderOutcome | undefined {
  if (!task || task.deletedAt || task.type !== 'task') return { sent: false, reason: 'task_gone' };
  if (task.status !== 'open') return { sent: false, reason: 'not_open' };
  if (task.dueAt !== input.dueAt || remindAtOf(task) !== input.remindAt) return { sent: false, reason: 'rescheduled' };
  if (!wantsReminder(task)) return { sent: false, reason: 'already_reminded' };
  return undefined;
}

/**
 * What the reminder function does when a schedule fires: if the task still applies, mail its assignee (their
 * profile gives address, name and time zone) and record `remindedAt` (which the stream publishes as `task.due`).
 * The mail goes first: a failure to record it retries the invocation and may mail twice, never zero times.
 */
export async function sendTaskReminder(deps: ReminderDeps, input: ReminderInput): Promise<ReminderOutcome> {
  let task = await deps.readTask(input.tenantId, input.taskId);
  const skip = stillApplies(task, input);
  if (skip) return skip;
  const assigneeId = task!.assigneeId ?? task!.ownerId;
  const user = await deps.findUser(input.tenantId, assigneeId);
  if (!user) return { sent: false, reason: 'no_profile' };
  // A disabled user cannot sign in to act on it; their open work is listed for reassignment instead.
  if (user.status === 'disabled') return { sent: false, reason: 'assignee_disabled' };
  const mail = reminderEmail(task!, user);
  await deps.sendEmail({ to: user.email, ...mail });
  const remindedAt = (deps.now?.() ?? new Date()).toISOString();
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await deps.markReminded(task!, remindedAt);
      return { sent: true, to: user.email };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      // Edited meanwhile (notes, priority...): record it on the new version if the reminder still applies.
      task = await deps.readTask(input.tenantId, input.taskId);
      if (stillApplies(task, input)) return { sent: true, to: user.email };
    }
  }
  return { sent: true, to: user.email };
}

import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';

/**
 * One one-time EventBridge Scheduler schedule per record (a task's reminder, a ticket's next SLA timer), kept in step
 * by a consumer of the record's change events: created, moved or deleted to match what the record wants now. Shared
 * by the task reminders (shared/activities/reminder-jobs.ts) and the ticket SLA workflow (shared/tickets/sla.ts).
 */

/** `<prefix>-` + 40 hex characters of SHA-256 of the parts: within Scheduler's 64 characters, whatever the ids. */
export function hashedScheduleName(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 40)}`;
}

/** `at(...)` for an instant, rounded up to the next whole second (never earlier than asked). */
export function atExpression(epochMs: number): string {
  const seconds = Math.ceil(epochMs / 1000) * 1000;
  return `at(${new Date(seconds).toISOString().slice(0, 19)})`;
}

export interface OneTimeScheduleTarget {
  scheduler: SchedulerClient;
  groupName: string;
  /** The function the schedule invokes, and the role Scheduler assumes to invoke it. */
  targetArn: string;
  roleArn: string;
}

export interface WantedSchedule {
  name: string;
  /** `at(yyyy-mm-ddThh:mm:ss)` in UTC (atExpression). */
  expression: string;
  description: string;
  /** What the target receives; a schedule whose stored input is the same is left alone. */
  input: unknown;
}

export type ScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';

/**
 * Makes the schedule `name` match `wanted` (undefined: it should not exist). A schedule with the same input is left
 * alone; a create that finds it made meanwhile updates it; an update that finds it fired and gone creates it again.
 */
export async function applyOneTimeSchedule(
  target: OneTimeScheduleTarget,
  name: string,
  wanted: WantedSchedule | undefined,
): Promise<ScheduleOutcome> {
  const { scheduler, groupName: GroupName } = target;
  if (!wanted) {
    try {
      await scheduler.send(new DeleteScheduleCommand({ Name: name, GroupName }));
      return 'deleted';
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return 'absent';
      throw error;
    }
  }
  const definition = {
    Name: wanted.name,
    GroupName,
    ScheduleExpression: wanted.expression,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' as const },
    // One-time: Scheduler deletes it once it has fired.
    ActionAfterCompletion: 'DELETE' as const,
    State: 'ENABLED' as const,
    Description: wanted.description,
    Target: {
      Arn: target.targetArn,
      RoleArn: target.roleArn,
      Input: JSON.stringify(wanted.input),
      RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
    },
  };
  let existing: { Target?: { Input?: string | undefined } | undefined } | undefined;
  try {
    existing = await scheduler.send(new GetScheduleCommand({ Name: wanted.name, GroupName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  if (existing?.Target?.Input === definition.Target.Input) return 'unchanged';
  if (!existing) {
    try {
      await scheduler.send(new CreateScheduleCommand(definition));
      return 'created';
    } catch (error) {
      // Created meanwhile by a consumer of another change of the same record: update it instead.
      if (!(error instanceof ConflictException)) throw error;
    }
  }
  try {
    await scheduler.send(new UpdateScheduleCommand(definition));
    return 'updated';
  } catch (error) {
    // It fired and deleted itself meanwhile: the target re-checks the record, so making it again is safe.
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await scheduler.send(new CreateScheduleCommand(definition));
    return 'created';
  }
}

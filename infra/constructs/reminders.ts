import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { CATALOG } from '../../events/catalog.ts';
import { CrmFunction, nagStackArn, scheduleGroupWithRole } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';

/**
 * The sender of reminder mail when the stack has no `senderEmail`: the local SES accepts it; in AWS, SES refuses an
 * unverified sender, so deploy with `-c senderEmail=...` for reminders to be delivered.
 */
export const DEFAULT_REMINDER_SENDER = 'reminders@crm.local';

/** The schedule consumer's actions, on schedules of the reminders group only. */
export const REMINDER_SCHEDULE_ACTIONS = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'scheduler:GetSchedule',
];

/** The activity events whose task may need its schedule changed. */
export function reminderScheduleEventPattern() {
  const types = ['activity.created', 'activity.updated', 'activity.deleted'] as const;
  return {
    source: [CATALOG['activity.created'].source],
    detailType: [...types],
    // A record or detail too large for the event is a claim check, without `type` to match: those come too.
    detail: { $or: [{ record: { type: ['task'] } }, { record: { type: [{ exists: false }] } }] },
  };
}

export interface CrmRemindersProps {
  bus: IEventBus;
  table: ITable;
  /** The verified SES sender (the stack's senderEmail). */
  senderEmail?: string;
}

/**
 * Follow-up reminders of tasks. Each open task with a due time has one one-time EventBridge Scheduler schedule in
 * the reminders group; a consumer of the tasks' change events keeps it in step (creates, moves, deletes it), and
 * when it fires Scheduler invokes the reminder function through its own execution role, which may invoke nothing
 * else. The reminder re-reads the task, mails the assignee through SES and records `remindedAt`.
 */
export class CrmReminders extends Construct {
  readonly group: CfnScheduleGroup;
  readonly reminder: CrmFunction;
  readonly schedules: CrmFunction;
  /** What Scheduler assumes to invoke the reminder. */
  readonly schedulerRole: Role;
  readonly rule: Rule;
  readonly failures: FailureQueue;
  readonly sender: string;

  constructor(scope: Construct, id: string, props: CrmRemindersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.sender = props.senderEmail ?? DEFAULT_REMINDER_SENDER;
    const scheduling = scheduleGroupWithRole(this, {
      purpose: 'task-reminders',
      roleDescription: 'EventBridge Scheduler invokes the task reminder function (and nothing else)',
    });
    ({ group: this.group, role: this.schedulerRole } = scheduling);
    const { schedulesArn } = scheduling;
    this.failures = new FailureQueue(this, 'Failures', {
      description: 'task reminders and reminder-schedule changes that failed after their retries',
    });

    this.reminder = new CrmFunction(this, 'TaskReminder', {
      entry: 'functions/scheduled/task-reminder.ts',
      serviceName: 'task-reminder',
      description: "A task's reminder schedule fired: mail the assignee (SES), record remindedAt",
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: { TABLE_NAME: props.table.tableName, SENDER_EMAIL: this.sender },
    });
    // The task and the assignee's profile are GetItems; remindedAt is a conditional Put of the task.
    this.reminder.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [props.table.tableArn] }),
    );
    this.reminder.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: [stack.formatArn({ service: 'ses', resource: 'identity', resourceName: this.sender })],
        conditions: { StringEquals: { 'ses:FromAddress': this.sender } },
      }),
    );
    this.reminder.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.failures.queue),
    });

    this.schedulerRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.reminder.function.functionArn] }),
    );

    this.schedules = new CrmFunction(this, 'TaskReminderSchedules', {
      entry: 'functions/events/task-reminder-schedule.ts',
      serviceName: 'task-reminder-schedules',
      description: 'Task change events -> its one-time reminder schedule (create, move, delete)',
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: {
        TABLE_NAME: props.table.tableName,
        REMINDER_SCHEDULE_GROUP: scheduling.groupName,
        REMINDER_FUNCTION_ARN: this.reminder.function.functionArn,
        REMINDER_ROLE_ARN: this.schedulerRole.roleArn,
      },
    });
    this.schedules.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [props.table.tableArn] }),
    );
    this.schedules.grantSchedules(schedulesArn, this.schedulerRole, REMINDER_SCHEDULE_ACTIONS);
    this.schedules.acknowledgeWildcardResource(
      nagStackArn(stack, 'scheduler', `schedule/${stack.stackName}-task-reminders/*`),
      'Schedules are named per task (task-reminder-<hash>) and created at run time, all in the reminders group: ' +
        'create/update/delete/get on that group only.',
    );
    this.schedules.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(this.failures.queue),
    });

    this.rule = new Rule(this, 'TaskChanges', {
      eventBus: props.bus,
      description: 'Task changes -> their reminder schedules',
      eventPattern: reminderScheduleEventPattern(),
      targets: [
        new LambdaFunction(this.schedules.function, {
          deadLetterQueue: this.failures.queue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}

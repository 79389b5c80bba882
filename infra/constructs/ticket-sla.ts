import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { CATALOG } from '../../events/catalog.ts';
import { busConsumer } from './bus-consumer.ts';
import { CrmFunction, nagStackArn, scheduleGroupWithRole } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';
import { DEFAULT_REMINDER_SENDER, REMINDER_SCHEDULE_ACTIONS } from './reminders.ts';

/** The ticket changes the SLA consumer recomputes on (deleted: to drop the ticket's timer). */
export const TICKET_SLA_EVENTS = ['ticket.created', 'ticket.updated', 'ticket.deleted'] as const;

export interface CrmTicketSlaProps {
  bus: IEventBus;
  table: ITable;
  /** The verified SES sender (the stack's senderEmail). */
  senderEmail?: string;
}

/**
 * The ticket SLA workflow (shared/tickets/sla.ts): a consumer of ticket changes writes each ticket's due times and
 * keeps one one-time EventBridge Scheduler schedule per ticket (in its own group) for its next warning or breach;
 * Scheduler invokes the timer through a role that may invoke nothing else, and the timer mails (SES) and escalates.
 */
export class CrmTicketSla extends Construct {
  readonly group: CfnScheduleGroup;
  readonly consumer: CrmFunction;
  readonly timer: CrmFunction;
  readonly schedulerRole: Role;
  readonly rule: Rule;
  readonly failures: FailureQueue;
  readonly sender: string;

  constructor(scope: Construct, id: string, props: CrmTicketSlaProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.sender = props.senderEmail ?? DEFAULT_REMINDER_SENDER;
    const scheduling = scheduleGroupWithRole(this, {
      purpose: 'ticket-sla',
      roleDescription: 'EventBridge Scheduler invokes the ticket SLA timer (and nothing else)',
    });
    ({ group: this.group, role: this.schedulerRole } = scheduling);
    const { schedulesArn } = scheduling;

    ({
      consumer: this.consumer,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/ticket-sla.ts',
        serviceName: 'ticket-sla',
        description: "Ticket changes -> the ticket's SLA due times and its next SLA timer schedule",
        environment: { TABLE_NAME: props.table.tableName, SLA_SCHEDULE_GROUP: scheduling.groupName },
      },
      eventPattern: { source: [CATALOG['ticket.created'].source], detailType: [...TICKET_SLA_EVENTS] },
      ruleDescription: 'Ticket changes -> SLA due times and timers',
      failureDescription: 'ticket SLA computations and SLA timers that failed after their retries',
    }));

    this.timer = new CrmFunction(this, 'Timer', {
      entry: 'functions/scheduled/sla-timer.ts',
      serviceName: 'sla-timer',
      description: "A ticket's SLA timer fired: warning mail, or breach (outcome, escalation, the team lead's mail)",
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: { TABLE_NAME: props.table.tableName, SENDER_EMAIL: this.sender },
    });
    // Reads the ticket, policy, calendar, team and users (GetItem); the escalation is the ticket's conditional Put
    // with ConditionChecks on the team and timeline-link Puts; the outcome is a Put.
    this.timer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'],
        resources: [props.table.tableArn],
      }),
    );
    this.timer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: [stack.formatArn({ service: 'ses', resource: 'identity', resourceName: this.sender })],
        conditions: { StringEquals: { 'ses:FromAddress': this.sender } },
      }),
    );
    this.timer.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(this.failures.queue) });

    this.schedulerRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.timer.function.functionArn] }),
    );

    this.consumer.function.addEnvironment('SLA_TIMER_FUNCTION_ARN', this.timer.function.functionArn);
    this.consumer.function.addEnvironment('SLA_SCHEDULER_ROLE_ARN', this.schedulerRole.roleArn);
    // Reads the ticket, policy and calendar; writes `sla` with a conditional UpdateItem and outcomes with a Put.
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
      }),
    );
    this.consumer.grantSchedules(schedulesArn, this.schedulerRole, REMINDER_SCHEDULE_ACTIONS);
    this.consumer.acknowledgeWildcardResource(
      nagStackArn(stack, 'scheduler', `schedule/${stack.stackName}-ticket-sla/*`),
      'Schedules are named per ticket (ticket-sla-<hash>) and created at run time, all in the ticket SLA group: ' +
        'create/update/delete/get on that group only.',
    );
  }
}

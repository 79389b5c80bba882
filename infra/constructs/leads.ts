import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { EmailIdentity } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { busConsumer } from './bus-consumer.ts';
import { type CrmFunction, nagStackArn, scheduleGroupWithRole } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';

/** Events that can change a lead's score: its own changes, form submissions, activities, marketing email events. */
export const SCORING_EVENTS = [
  'lead.created',
  'lead.updated',
  'lead.restored',
  'form.submitted',
  'activity.created',
  'activity.updated',
  'email.opened',
] as const;

export interface CrmLeadsProps {
  bus: IEventBus;
  table: ITable;
  /** The public web-to-lead function: it sends the double opt-in emails. */
  formSubmissions: CrmFunction;
  sender?: { email: string; identity: EmailIdentity };
}

/**
 * Lead scoring and the web-to-lead mail: a rule sends lead, form and activity events to the scoring consumer, which
 * rescores the leads they concern and keeps one one-time Scheduler schedule per decaying lead (in its own schedule
 * group) that sends the lead back to it when decay next moves the score. The form-submission function may send
 * mail from the verified sender only.
 */
export class CrmLeads extends Construct {
  readonly scoring: CrmFunction;
  readonly rule: Rule;
  readonly failures: FailureQueue;
  readonly scheduleGroup: CfnScheduleGroup;
  readonly schedulerRole: Role;

  constructor(scope: Construct, id: string, props: CrmLeadsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Scheduler invokes the consumer with this role; the consumer may hand it only to its own schedules.
    ({ group: this.scheduleGroup, role: this.schedulerRole } = scheduleGroupWithRole(this, {
      purpose: 'lead-scoring',
      groupId: 'ScheduleGroup',
      l1: true,
      roleDescription: 'EventBridge Scheduler -> lead scoring consumer (decay recomputes)',
    }));
    ({
      consumer: this.scoring,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/lead-scoring.ts',
        serviceName: 'lead-scoring',
        description: 'Lead, form and activity events -> lead scores (and the next decay recompute)',
        environment: { TABLE_NAME: props.table.tableName, SCORE_SCHEDULE_GROUP: this.scheduleGroup.ref },
      },
      eventPattern: { detailType: [...SCORING_EVENTS] },
      ruleDescription: 'Lead, form and activity events -> lead scoring',
      failureDescription: 'events that were not applied to lead scores',
      ids: { consumer: 'Scoring' },
    }));
    // Reads a lead and the tenant's rules, writes the score fields with a conditional UpdateItem: nothing else.
    this.scoring.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], resources: [props.table.tableArn] }),
    );

    this.schedulerRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.scoring.function.functionArn] }),
    );
    this.scoring.function.addEnvironment('SCORE_SCHEDULER_ROLE_ARN', this.schedulerRole.roleArn);
    const schedules = `arn:${stack.partition}:scheduler:${stack.region}:${stack.account}:schedule/${this.scheduleGroup.ref}/lead-score-*`;
    this.scoring.grantSchedules(schedules, this.schedulerRole, [
      'scheduler:CreateSchedule',
      'scheduler:UpdateSchedule',
    ]);
    this.scoring.acknowledgeWildcardResource(
      nagStackArn(stack, 'scheduler', `schedule/<${stack.getLogicalId(this.scheduleGroup)}>/lead-score-*`),
      'Its own one-time decay schedules (one per lead, named by a hash of tenant and lead) in the scoring group only.',
    );

    if (props.sender) {
      props.formSubmissions.function.addEnvironment('SENDER_EMAIL', props.sender.email);
      props.formSubmissions.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['ses:SendEmail'], resources: [props.sender.identity.emailIdentityArn] }),
      );
    }
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventField, type IEventBus, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import {
  Choice,
  Condition,
  Fail,
  JsonPath,
  type StateMachine,
  Succeed,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import type { BackfillStep } from '../../functions/workflows/segment-backfill.ts';
import { busConsumer } from './bus-consumer.ts';
import { CrmFunction, nagStackArn, scheduleGroupWithRole } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';
import { TRANSIENT_ERRORS } from './ticket-routing.ts';
import { lambdaWorkflow } from './workflow.ts';

/** What moves memberships: contact changes (a merge's loser leaves), opens and clicks, and segments' own changes. */
export const MEMBERSHIP_EVENTS: DetailType[] = [
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'contact.restored',
  'contact.merged',
  'email.opened',
  'email.clicked',
  'segment.created',
  'segment.updated',
  'segment.deleted',
  'segment.restored',
];

/** The segment changes that start a backfill: a new evaluation (a new dynamic segment, a new filter, a restore). */
export function backfillEventPattern() {
  const types: DetailType[] = ['segment.created', 'segment.updated', 'segment.restored'];
  return {
    source: [CATALOG['segment.created'].source],
    detailType: types,
    // `exists` matches leaves only (as in EventBridge): the change's new value. A whole detail too large for the event
    // is a claim check that still names its changed fields.
    detail: { $or: [{ changes: { evaluation: { new: [{ exists: true }] } } }, { changedFields: ['evaluation'] }] },
  };
}

export const SWEEP_SCHEDULE_ACTIONS = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'scheduler:GetSchedule',
];

export interface CrmSegmentsProps {
  bus: IEventBus;
  table: ITable;
}

/**
 * Dynamic segments' membership (shared/segments): a bus consumer keeps memberships in step with contact changes and
 * email engagement, and each segment's hourly sweep schedule in step with the segment; a STANDARD state machine,
 * started by a rule on the segment's change events (and by the sweep schedules), runs the backfill: Start, then one
 * Page of about 500 contacts per Lambda invocation in a loop, the progress kept on the segment. Failures of either
 * land in alarmed queues; failed executions raise an alarm.
 */
export class CrmSegments extends Construct {
  readonly steps: CrmFunction;
  readonly stateMachine: StateMachine;
  readonly backfillRule: Rule;
  readonly backfillFailures: FailureQueue;
  readonly failedAlarm: Alarm;
  readonly consumer: CrmFunction;
  readonly consumerFailures: FailureQueue;
  readonly consumerRule: Rule;
  readonly sweepGroup: CfnScheduleGroup;
  readonly schedulerRole: Role;

  constructor(scope: Construct, id: string, props: CrmSegmentsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const tableArn = props.table.tableArn;
    // Member puts and deletes, the count's ADD and ConditionChecks of contact and segment, in transactions; the
    // segment and contacts read with GetItem; progress written with UpdateItem.
    const itemActions = [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:ConditionCheckItem',
    ];

    this.steps = new CrmFunction(this, 'BackfillSteps', {
      entry: 'functions/workflows/segment-backfill.ts',
      serviceName: 'segment-backfill',
      description: 'The segment backfill workflow’s steps: start (claim the evaluation), page, fail',
      memorySize: 1024,
      timeout: Duration.minutes(2),
      environment: { TABLE_NAME: props.table.tableName },
    });
    this.steps.role.addToPrincipalPolicy(new PolicyStatement({ actions: itemActions, resources: [tableArn] }));
    // Contacts by name (gsi4) and the segment's members (its partition of the table).
    this.steps.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [tableArn, `${tableArn}/index/gsi4`] }),
    );

    const task = (name: string, step: BackfillStep) =>
      new LambdaInvoke(this, name, {
        lambdaFunction: this.steps.function,
        // The execution's name is the run that owns the progress: a re-run execution resumes its own.
        payload: TaskInput.fromObject({
          step,
          state: JsonPath.objectAt('$'),
          run: JsonPath.stringAt('$$.Execution.Name'),
        }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: Timeout.duration(Duration.minutes(3)),
      }).addRetry({ errors: TRANSIENT_ERRORS, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6 });
    const failed = task('MarkFailed', 'fail').next(new Fail(this, 'Failed', { error: 'SegmentBackfillFailed' }));
    const start = task('Start', 'start').addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    const page = task('Page', 'page').addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    const finished = new Succeed(this, 'Finished');
    const more = new Choice(this, 'More?').when(Condition.stringEquals('$.decision', 'page'), page).otherwise(finished);
    page.next(more);
    const definition = start.next(
      new Choice(this, 'Claimed?')
        .when(Condition.stringEquals('$.decision', 'page'), page)
        .otherwise(new Succeed(this, 'Nothing to do')),
    );

    ({ stateMachine: this.stateMachine, failedAlarm: this.failedAlarm } = lambdaWorkflow(this, {
      id: 'Backfill',
      comment: 'Evaluates every contact (then every stale member) against a dynamic segment, a page per step',
      definition: definition,
      // About 7 history events per page: 3,000 pages (1.5 million contacts) stay under the 25,000-event limit.
      timeout: Duration.hours(12),
      steps: this.steps,
      loggedWith: 'the tenant, segment and run',
      alarm: {
        id: 'BackfillsFailed',
        description: 'Segment backfill executions failed or timed out (the segment shows backfill.status failed).',
        period: Duration.minutes(5),
      },
    }));

    this.backfillFailures = new FailureQueue(this, 'BackfillFailures', {
      description: 'segment changes whose backfill execution could not be started',
    });
    this.backfillRule = new Rule(this, 'NewEvaluation', {
      eventBus: props.bus,
      description: 'A new evaluation of a dynamic segment -> its backfill workflow',
      eventPattern: backfillEventPattern(),
      targets: [
        new SfnStateMachine(this.stateMachine, {
          input: RuleTargetInput.fromObject({
            tenantId: EventField.fromPath('$.detail.tenantId'),
            segmentId: EventField.fromPath('$.detail.entityId'),
          }),
          deadLetterQueue: this.backfillFailures.queue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // Hourly sweeps of segments with time windows: one rate schedule per such segment, starting the workflow.
    const scheduling = scheduleGroupWithRole(this, {
      purpose: 'segment-sweeps',
      groupId: 'SweepGroup',
      roleDescription: 'EventBridge Scheduler starts the segment backfill workflow (sweeps) and nothing else',
    });
    ({ group: this.sweepGroup, role: this.schedulerRole } = scheduling);
    const { schedulesArn } = scheduling;
    this.schedulerRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
    );

    ({
      consumer: this.consumer,
      failures: this.consumerFailures,
      rule: this.consumerRule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/segment-membership.ts',
        serviceName: 'segment-membership',
        description: 'Contact, engagement and segment events -> segment memberships and sweep schedules',
        environment: {
          TABLE_NAME: props.table.tableName,
          SWEEP_SCHEDULE_GROUP: scheduling.groupName,
          SWEEP_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
          SWEEP_ROLE_ARN: this.schedulerRole.roleArn,
        },
      },
      eventPattern: {
        source: [...new Set(MEMBERSHIP_EVENTS.map((type) => CATALOG[type].source))],
        detailType: MEMBERSHIP_EVENTS,
      },
      ruleDescription: 'Contact, engagement and segment changes -> segment memberships',
      failureDescription: 'contact, engagement and segment events not applied to segment memberships',
      ids: { consumer: 'Membership', rule: 'MembershipEvents' },
    }));
    this.consumer.role.addToPrincipalPolicy(new PolicyStatement({ actions: itemActions, resources: [tableArn] }));
    // The tenant's segments by name (gsi4), read to find its dynamic ones.
    this.consumer.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${tableArn}/index/gsi4`] }),
    );
    this.consumer.grantSchedules(schedulesArn, this.schedulerRole, SWEEP_SCHEDULE_ACTIONS);
    this.consumer.acknowledgeWildcardResource(
      nagStackArn(stack, 'scheduler', `schedule/${stack.stackName}-segment-sweeps/*`),
      'Schedules are named per segment (segment-sweep-<hash>) and created at run time, all in the sweeps group: ' +
        'create/update/delete/get on that group only.',
    );
  }
}

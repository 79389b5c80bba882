import { type CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventField, type IEventBus, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CATALOG, type DetailType } from '../../events/catalog.ts';
import type { BackfillStep } from '../../functions/workflows/segment-backfill.ts';
import { busConsumer } from './bus-consumer.ts';
import { CrmFunction, nagArnOf, nagStackArn } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';
import { TRANSIENT_ERRORS } from './ticket-routing.ts';

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
  readonly sweepGroup: ScheduleGroup;
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

    const logs = new LogGroup(this, 'ExecutionLogs', { retention: RetentionDays.ONE_MONTH });
    this.stateMachine = new StateMachine(this, 'Backfill', {
      stateMachineType: StateMachineType.STANDARD,
      comment: 'Evaluates every contact (then every stale member) against a dynamic segment, a page per step',
      definitionBody: DefinitionBody.fromChainable(definition),
      // About 7 history events per page: 3,000 pages (1.5 million contacts) stay under the 25,000-event limit.
      timeout: Duration.hours(12),
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: false,
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF2',
      reason:
        'Tracing is off stack-wide (see CrmFunction: the X-Ray SDK costs CPU and bundle size); executions are ' +
        'logged at level ALL and every step logs with the tenant, segment and run.',
    });
    const policy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      Validations.of(policy).acknowledge(
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'Step Functions’ log delivery actions (logs:CreateLogDelivery, PutResourcePolicy...) support no ' +
            'resource-level permissions.',
        },
        {
          id: `AwsSolutions-IAM5[Resource::${nagArnOf(this.steps.function.node.defaultChild as CfnResource)}:*]`,
          reason: 'Invoking the steps function by version or alias (CDK grants both forms); it is the only function.',
        },
      );
    }

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
    this.failedAlarm = new Alarm(this, 'BackfillsFailed', {
      alarmDescription: 'Segment backfill executions failed or timed out (the segment shows backfill.status failed).',
      metric: new MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period: Duration.minutes(5) }),
          timedOut: this.stateMachine.metricTimedOut({ period: Duration.minutes(5) }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // Hourly sweeps of segments with time windows: one rate schedule per such segment, starting the workflow.
    this.sweepGroup = new ScheduleGroup(this, 'SweepGroup', { scheduleGroupName: `${stack.stackName}-segment-sweeps` });
    const schedulesArn = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.sweepGroup.scheduleGroupName}/*`,
    });
    this.schedulerRole = new Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler starts the segment backfill workflow (sweeps) and nothing else',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': [schedulesArn, this.sweepGroup.scheduleGroupArn] },
        },
      }),
    });
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
          SWEEP_SCHEDULE_GROUP: this.sweepGroup.scheduleGroupName,
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

import { Duration, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
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
  type TaskStateBase,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CATALOG } from '../../events/catalog.ts';
import type { CampaignStep } from '../../functions/workflows/campaign-send.ts';
import { busConsumer } from './bus-consumer.ts';
import { CrmFunction, nagStackArn, scheduleGroupWithRole } from './crm-function.ts';
import type { FailureQueue } from './failure-queue.ts';
import { grantMarketingSend } from './marketing-send.ts';
import { REMINDER_SCHEDULE_ACTIONS } from './reminders.ts';
import { TRANSIENT_ERRORS } from './ticket-routing.ts';
import { lambdaWorkflow } from './workflow.ts';

/** SES's default sending rate of a new production account (messages per second): `-c sesMaxSendRate=N` to change. */
export const DEFAULT_SES_MAX_SEND_RATE = 14;

/** The campaign changes the schedule consumer keeps schedules in step with. */
export const CAMPAIGN_SCHEDULE_EVENTS = ['campaign.created', 'campaign.updated', 'campaign.deleted'] as const;

/** Errors a batch is retried on, with backoff: the transient ones, and a page cut short by SES (throttled, no answer). */
export const CAMPAIGN_RETRY_ERRORS = [...TRANSIENT_ERRORS, 'CampaignSendInterrupted', 'TooManyRequestsException'];

export interface CrmCampaignsProps {
  bus: IEventBus;
  table: ITable;
  /** The domain marketing mail is sent from (its SES identity). */
  mailDomain: string;
  /** The SES configuration set of marketing mail (tracking events). */
  configurationSetName?: string;
  /** SES's sending rate (messages per second) the sender keeps to. */
  sesMaxSendRate?: number;
}

/**
 * Email campaigns' sending. A consumer of `campaign.*` events keeps one one-time EventBridge Scheduler schedule per
 * campaign (in its own group) at the campaign's send time; Scheduler starts the send state machine through a role
 * that may start only it. The state machine (STANDARD) runs Start → SendBatch (looped while not done) → Finish, any
 * unrecovered error → Fail, as one Lambda function dispatching on the step (functions/workflows/campaign-send.ts,
 * shared/campaigns/sender.ts); its state is ids only, the send's cursor is on the campaign.
 */
export class CrmCampaigns extends Construct {
  readonly group: CfnScheduleGroup;
  readonly steps: CrmFunction;
  readonly stateMachine: StateMachine;
  readonly schedulerRole: Role;
  readonly schedules: CrmFunction;
  readonly rule: Rule;
  readonly failures: FailureQueue;
  readonly failedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: CrmCampaignsProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.steps = new CrmFunction(this, 'SendSteps', {
      entry: 'functions/workflows/campaign-send.ts',
      serviceName: 'campaign-send',
      description: 'The campaign send workflow’s steps: start, send a batch of pages, finish, fail',
      memorySize: 1024,
      // A batch takes pages for BATCH_SECONDS, then returns: well inside this.
      timeout: Duration.minutes(5),
      environment: {
        TABLE_NAME: props.table.tableName,
        SES_MAX_SEND_RATE: String(props.sesMaxSendRate ?? DEFAULT_SES_MAX_SEND_RATE),
        BATCH_SECONDS: '120',
      },
    });
    // Reads: the campaign, template, contacts (BatchGetItem with companies, owners, exclusion memberships and
    // suppressions), a segment's members (Query of its partition). Writes: the campaign (conditional Put; the
    // progress UpdateItem), ledger items and stats ADDs in transactions (Put, Update; Delete to give a claim back),
    // the tenant's signing key on first use (Put), and its entry in the SES rate pool (Put, Query, Delete).
    this.steps.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ],
        resources: [props.table.tableArn],
      }),
    );
    grantMarketingSend(this.steps, {
      mailDomain: props.mailDomain,
      ...(props.configurationSetName ? { configurationSetName: props.configurationSetName } : {}),
    });

    const task = (name: string, step: CampaignStep, state: Record<string, unknown> | string) =>
      new LambdaInvoke(this, name, {
        lambdaFunction: this.steps.function,
        payload: TaskInput.fromObject({
          step,
          state: typeof state === 'string' ? JsonPath.objectAt(state) : state,
        }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: Timeout.duration(Duration.minutes(6)),
      }).addRetry({
        errors: CAMPAIGN_RETRY_ERRORS,
        interval: Duration.seconds(5),
        backoffRate: 2,
        maxAttempts: 6,
      });
    const failed = new Fail(this, 'Send failed', { error: 'CampaignSendFailed', cause: 'See the campaign’s failure.' });
    // Built from the context too: a Start that failed has no `execution` in its state yet.
    const fail = task('Fail', 'fail', {
      tenantId: JsonPath.stringAt('$.tenantId'),
      campaignId: JsonPath.stringAt('$.campaignId'),
      run: JsonPath.numberAt('$.run'),
      execution: JsonPath.stringAt('$$.Execution.Name'),
      error: JsonPath.objectAt('$.error'),
    }).next(failed);
    const toFail = (state: TaskStateBase) => state.addCatch(fail, { errors: ['States.ALL'], resultPath: '$.error' });
    const start = toFail(
      task('Start', 'start', {
        tenantId: JsonPath.stringAt('$.tenantId'),
        campaignId: JsonPath.stringAt('$.campaignId'),
        run: JsonPath.numberAt('$.run'),
        execution: JsonPath.stringAt('$$.Execution.Name'),
      }),
    );
    const sendBatch = toFail(task('SendBatch', 'sendBatch', '$'));
    const finish = toFail(task('Finish', 'finish', '$'));
    const definition = start.next(
      new Choice(this, 'Started?')
        .when(
          Condition.booleanEquals('$.proceed', true),
          sendBatch.next(
            new Choice(this, 'Done?')
              .when(Condition.booleanEquals('$.done', false), sendBatch)
              .when(Condition.stringEquals('$.outcome', 'finished'), finish.next(new Succeed(this, 'Sent')))
              .otherwise(new Succeed(this, 'Stopped (paused, cancelled or taken over)')),
          ),
        )
        .otherwise(new Succeed(this, 'Not started (stale, duplicate or cancelled)')),
    );

    ({ stateMachine: this.stateMachine, failedAlarm: this.failedAlarm } = lambdaWorkflow(this, {
      id: 'SendStateMachine',
      comment: 'Sends a campaign: pages through its audience from the campaign’s progress, within the SES rate',
      definition: definition,
      // 100,000 recipients at 14/s take two hours; a paused campaign ends its execution (resume starts a new one).
      timeout: Duration.days(2),
      steps: this.steps,
      loggedWith: 'the campaign id',
      alarm: {
        id: 'SendsFailed',
        description: 'Campaign sends failed or timed out (the campaign records the failure; it can be resumed).',
      },
    }));

    const scheduling = scheduleGroupWithRole(this, {
      purpose: 'campaigns',
      roleDescription: 'EventBridge Scheduler starts the campaign send state machine (and nothing else)',
    });
    ({ group: this.group, role: this.schedulerRole } = scheduling);
    const { schedulesArn } = scheduling;
    this.stateMachine.grantStartExecution(this.schedulerRole);

    ({
      consumer: this.schedules,
      failures: this.failures,
      rule: this.rule,
    } = busConsumer(this, {
      bus: props.bus,
      fn: {
        entry: 'functions/events/campaign-schedule.ts',
        serviceName: 'campaign-schedule',
        description: "Campaign changes -> the campaign's one-time schedule starting its send (create, move, delete)",
        environment: {
          TABLE_NAME: props.table.tableName,
          CAMPAIGN_SCHEDULE_GROUP: scheduling.groupName,
          CAMPAIGN_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
          CAMPAIGN_SCHEDULER_ROLE_ARN: this.schedulerRole.roleArn,
        },
      },
      eventPattern: { source: [CATALOG['campaign.created'].source], detailType: [...CAMPAIGN_SCHEDULE_EVENTS] },
      ruleDescription: 'Campaign changes -> their send schedules',
      failureDescription: 'campaign schedule changes that failed after their retries',
      ids: { consumer: 'Schedules', rule: 'CampaignChanges' },
    }));
    this.schedules.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [props.table.tableArn] }),
    );
    this.schedules.grantSchedules(schedulesArn, this.schedulerRole, REMINDER_SCHEDULE_ACTIONS);
    this.schedules.acknowledgeWildcardResource(
      nagStackArn(stack, 'scheduler', `schedule/${stack.stackName}-campaigns/*`),
      'Schedules are named per campaign (campaign-send-<hash>) and created at run time, all in the campaigns ' +
        'group: create/update/delete/get on that group only.',
    );
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Choice,
  Condition,
  Fail,
  JsonPath,
  type StateMachine,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SEQUENCE_EXIT_EVENTS } from '../../functions/events/sequence-exits.ts';
import { SEQUENCE_TRIGGER_EVENTS } from '../../functions/events/sequence-triggers.ts';
import { SES_THROTTLES } from '../../shared/sequences/ses-throttles.ts';
import { busConsumer } from './bus-consumer.ts';
import { CrmFunction } from './crm-function.ts';
import { marketingConfigurationSetName } from './email-tracking.ts';
import type { FailureQueue } from './failure-queue.ts';
import { grantMarketingSend } from './marketing-send.ts';
import { TRANSIENT_ERRORS } from './ticket-routing.ts';
import { lambdaWorkflow } from './workflow.ts';

export interface CrmSequencesProps {
  bus: IEventBus;
  table: ITable;
  /** The domain marketing mail is sent from (see grantMarketingSend). */
  mailDomain: string;
}

/**
 * Drip sequences: one STANDARD execution per enrolment, Step (a Lambda turn: shared/sequences/workflow.ts) → Done? →
 * Wait until `$.waitUntil` → Step ...; the state holds ids and the next wake-up only. A Step error past its retries
 * is caught into RecordFailure (the enrolment ends `failed` with the cause) → Fail. The triggers consumer starts
 * executions from `sequence.enrollment_created` (deterministic names), runs segment jobs and form enrolments; the
 * exits consumer ends enrolments on replies, unsubscribes, conversions and won deals.
 */
export class CrmSequences extends Construct {
  readonly steps: CrmFunction;
  readonly stateMachine: StateMachine;
  readonly triggers: CrmFunction;
  readonly exits: CrmFunction;
  readonly triggerRule: Rule;
  readonly exitRule: Rule;
  readonly triggerFailures: FailureQueue;
  readonly exitFailures: FailureQueue;
  readonly failedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: CrmSequencesProps) {
    super(scope, id);
    this.steps = new CrmFunction(this, 'Steps', {
      entry: 'functions/workflows/sequence-step.ts',
      serviceName: 'sequence-steps',
      description: "A drip sequence enrolment's turn: send, wait, task, branch",
      memorySize: 512,
      timeout: Duration.seconds(60),
      // PUBLIC_API_URL (where unsubscribe links point) comes from givePublicApiUrl in the stack.
      environment: { TABLE_NAME: props.table.tableName },
    });
    // Reads (GetItem only): enrolment, sequence, contact, its company and owner, template, suppression entry,
    // ledger, signing key. Writes: the enrolment's conditional updates, the ledger claim
    // and its transaction with the stats shard, a task with its timeline links and idempotency record.
    this.steps.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: [props.table.tableArn],
      }),
    );
    // Marketing mail only: SendEmail on the mail domain's identity, From within it, through the marketing
    // configuration set (its events feed tracking).
    grantMarketingSend(this.steps, {
      mailDomain: props.mailDomain,
      configurationSetName: marketingConfigurationSetName(Stack.of(this).stackName),
    });

    // The steps function with the enrolment's ids (and `extra` fields), retried on Lambda's transient errors.
    const invokeSteps = (id: string, extra: Record<string, unknown> = {}) =>
      new LambdaInvoke(this, id, {
        lambdaFunction: this.steps.function,
        payload: TaskInput.fromObject({
          tenantId: JsonPath.stringAt('$.tenantId'),
          sequenceId: JsonPath.stringAt('$.sequenceId'),
          contactId: JsonPath.stringAt('$.contactId'),
          run: JsonPath.numberAt('$.run'),
          ...extra,
        }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: Timeout.duration(Duration.seconds(90)),
      }).addRetry({ errors: TRANSIENT_ERRORS, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6 });
    const step = invokeSteps('Step')
      // SES said "not now" (the send released its claim): retry for longer, as the sending rate recovers.
      .addRetry({ errors: [...SES_THROTTLES], interval: Duration.seconds(30), backoffRate: 2, maxAttempts: 8 });
    // An error past the retries (or none to retry) ends the enrolment as `failed` with its cause, then the execution
    // fails (the alarm counts it): an enrolment never stays `active` behind a dead workflow.
    const recordFailure = invokeSteps('RecordFailure', { error: JsonPath.objectAt('$.error') }).next(
      new Fail(this, 'Failed', { error: 'SequenceEnrollmentFailed', cause: "See the enrolment's failure." }),
    );
    step.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    const wait = new Wait(this, 'Wait', { time: WaitTime.timestampPath('$.waitUntil') });
    const definition = step.next(
      new Choice(this, 'Done?')
        .when(Condition.booleanEquals('$.done', true), new Succeed(this, 'Done'))
        .otherwise(wait.next(step)),
    );
    ({ stateMachine: this.stateMachine, failedAlarm: this.failedAlarm } = lambdaWorkflow(this, {
      id: 'StateMachine',
      comment: 'One drip sequence enrolment: a turn of steps, then a wait, until it completes or exits',
      definition: definition,
      timeout: Duration.days(365),
      steps: this.steps,
      loggedWith: 'tenant, sequence and contact ids',
      alarm: {
        id: 'ExecutionsFailed',
        description: 'Sequence enrolment executions failed or timed out: an enrolment stopped mid-way.',
      },
    }));

    const triggers = busConsumer(new Construct(this, 'Triggers'), {
      bus: props.bus,
      fn: {
        entry: 'functions/events/sequence-triggers.ts',
        serviceName: 'sequence-triggers',
        description: 'Enrolments -> their workflow; activation, segment joins, form leads -> enrolment',
        timeout: Duration.minutes(5),
        environment: {
          TABLE_NAME: props.table.tableName,
          SEQUENCE_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        },
      },
      eventPattern: { detailType: [...SEQUENCE_TRIGGER_EVENTS] },
      ruleDescription: 'Sequence enrolments and changes, form submissions, segment joins -> sequence triggers',
      failureDescription: 'sequence events whose workflow or enrolments were not started',
    });
    this.triggers = triggers.consumer;
    this.triggerRule = triggers.rule;
    this.triggerFailures = triggers.failures;
    this.stateMachine.grantStartExecution(this.triggers.function);
    // Reads sequences, submissions, leads, contacts; Queries lookups (table), segment members (table) and the
    // form's sequences (gsi2), a converted lead's submissions (its timeline, gsi6); creates enrolments (conditional
    // Put) and records the segment job (UpdateItem).
    this.triggers.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [props.table.tableArn, `${props.table.tableArn}/index/gsi2`, `${props.table.tableArn}/index/gsi6`],
      }),
    );

    const exits = busConsumer(new Construct(this, 'Exits'), {
      bus: props.bus,
      fn: {
        entry: 'functions/events/sequence-exits.ts',
        serviceName: 'sequence-exits',
        description: 'Replies, unsubscribes, conversions, won deals -> sequence exits',
        environment: { TABLE_NAME: props.table.tableName },
      },
      eventPattern: { detailType: [...SEQUENCE_EXIT_EVENTS] },
      ruleDescription: 'Mail received, contact changes and won deals -> sequence exits',
      failureDescription: 'events whose sequence exits were not applied',
    });
    this.exits = exits.consumer;
    this.exitRule = exits.rule;
    this.exitFailures = exits.failures;
    // A contact's enrolments and the sender's lookup are table Queries; exits are conditional UpdateItems.
    this.exits.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [props.table.tableArn],
      }),
    );
  }
}

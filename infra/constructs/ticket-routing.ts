import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventField, type IEventBus, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Choice,
  Condition,
  type IChainable,
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
import type { RoutingStep } from '../../functions/workflows/ticket-routing.ts';
import { CrmFunction } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';
import { lambdaWorkflow } from './workflow.ts';

/**
 * Errors worth retrying with backoff: Lambda's own service errors and throttles, a task timeout, and DynamoDB's
 * transient ones as the steps rethrow them. Anything else (a deleted assignee, a bug) goes straight to the fallback.
 */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
  'States.Timeout',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'TransactionConflictException',
];

export interface CrmTicketRoutingProps {
  bus: IEventBus;
  table: ITable;
}

/**
 * Ticket routing: `ticket.created` on the bus starts the routing state machine (Route → Assign → Apply, any failure
 * or no agent → Fallback), whose tasks are one Lambda function dispatching on the step (functions/workflows/
 * ticket-routing.ts, shared/routing/workflow.ts). Deliveries EventBridge cannot make land in an alarmed queue; an
 * execution that fails even its fallback raises an alarm.
 */
export class CrmTicketRouting extends Construct {
  readonly steps: CrmFunction;
  readonly stateMachine: StateMachine;
  readonly rule: Rule;
  /** The EventBridge target's dead-letter queue (executions that could not be started). */
  readonly failures: FailureQueue;
  /** Executions that failed or timed out: even the fallback could not write the ticket. */
  readonly failedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: CrmTicketRoutingProps) {
    super(scope, id);
    this.steps = new CrmFunction(this, 'Steps', {
      entry: 'functions/workflows/ticket-routing.ts',
      serviceName: 'ticket-routing',
      description: 'The ticket routing workflow’s steps: route, assign, apply, fallback',
      memorySize: 512,
      // As the API functions: a round-robin turn claimed by an attempt older than this is known to be dead.
      timeout: Duration.seconds(10),
      environment: { TABLE_NAME: props.table.tableName },
    });
    // Reads: ticket, rules, requester, company, team, profiles, load counters. Writes: the ticket's conditional
    // rewrite (a transaction of Puts and ConditionChecks on assignee and team), counter ADDs, turn markers.
    this.steps.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
        resources: [props.table.tableArn],
      }),
    );

    const task = (name: string, step: RoutingStep) =>
      new LambdaInvoke(this, name, {
        lambdaFunction: this.steps.function,
        payload: TaskInput.fromObject({ step, state: JsonPath.entirePayload }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: Timeout.duration(Duration.seconds(30)),
      }).addRetry({
        errors: TRANSIENT_ERRORS,
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: 4,
      });
    const fallback = task('Fallback', 'fallback');
    const toFallback = (state: TaskStateBase) =>
      state.addCatch(fallback, { errors: ['States.ALL'], resultPath: '$.error' });
    const route = toFallback(task('Route', 'route'));
    const assign = toFallback(task('Assign', 'assign'));
    const apply = toFallback(task('Apply', 'apply'));
    const done = new Succeed(this, 'Done');
    const decided = (name: string, next: IChainable) =>
      new Choice(this, name)
        .when(Condition.stringEquals('$.decision', 'skip'), new Succeed(this, `${name}: left alone`))
        .when(Condition.stringEquals('$.decision', 'fallback'), fallback)
        .otherwise(next);
    const definition = route.next(decided('Routed?', assign.next(decided('Assigned?', apply.next(done)))));

    ({ stateMachine: this.stateMachine, failedAlarm: this.failedAlarm } = lambdaWorkflow(this, {
      id: 'StateMachine',
      comment: 'Routes a new ticket: rules → team and priority → an available agent → one conditional write',
      definition: definition,
      timeout: Duration.minutes(15),
      steps: this.steps,
      loggedWith: 'the ticket id',
      alarm: {
        id: 'ExecutionsFailed',
        description: 'Ticket routing executions failed or timed out: even the fallback queue could not be written.',
      },
    }));

    this.failures = new FailureQueue(this, 'Failures', {
      description: 'ticket.created events whose routing execution could not be started',
    });
    this.rule = new Rule(this, 'TicketCreated', {
      eventBus: props.bus,
      description: 'ticket.created -> the ticket routing workflow',
      eventPattern: { source: [CATALOG['ticket.created'].source], detailType: ['ticket.created'] },
      targets: [
        new SfnStateMachine(this.stateMachine, {
          // Ids only: the workflow re-reads the ticket (a claim-checked event still carries them).
          input: RuleTargetInput.fromObject({
            tenantId: EventField.fromPath('$.detail.tenantId'),
            ticketId: EventField.fromPath('$.detail.entityId'),
          }),
          deadLetterQueue: this.failures.queue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}

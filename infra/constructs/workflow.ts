import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  type IChainable,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { type CrmFunction, nagArnOf } from './crm-function.ts';

export interface LambdaWorkflowProps {
  /** The state machine's construct id (kept per workflow: a new id would replace the deployed machine). */
  id: string;
  comment: string;
  definition: IChainable;
  timeout: Duration;
  /** The one function the workflow's tasks invoke. */
  steps: CrmFunction;
  /** What every step logs with (why no tracing is needed). */
  loggedWith: string;
  /** The alarm on failed or timed-out executions: its construct id and what such a failure means. */
  alarm: { id: string; description: string; period?: Duration };
}

/**
 * A STANDARD workflow over one steps function, as every workflow of the stack is built: executions logged at level
 * ALL to their own log group (no execution data: it holds ids only anyway), no tracing (as CrmFunction), and an
 * alarm on any failed or timed-out execution.
 */
export function lambdaWorkflow(
  scope: Construct,
  props: LambdaWorkflowProps,
): { stateMachine: StateMachine; failedAlarm: Alarm } {
  const logs = new LogGroup(scope, 'ExecutionLogs', { retention: RetentionDays.ONE_MONTH });
  const stateMachine = new StateMachine(scope, props.id, {
    stateMachineType: StateMachineType.STANDARD,
    comment: props.comment,
    definitionBody: DefinitionBody.fromChainable(props.definition),
    timeout: props.timeout,
    logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    tracingEnabled: false,
  });
  Validations.of(stateMachine).acknowledge({
    id: 'AwsSolutions-SF2',
    reason:
      'Tracing is off stack-wide (see CrmFunction: the X-Ray SDK costs CPU and bundle size); executions are ' +
      `logged at level ALL and every step logs with ${props.loggedWith}.`,
  });
  const policy = stateMachine.role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions’ log delivery actions (logs:CreateLogDelivery, PutResourcePolicy...) support no ' +
          'resource-level permissions.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${nagArnOf(props.steps.function.node.defaultChild as CfnResource)}:*]`,
        reason: 'Invoking the steps function by version or alias (CDK grants both forms); it is the only function.',
      },
    );
  }
  const period = props.alarm.period ?? Duration.minutes(1);
  const failedAlarm = new Alarm(scope, props.alarm.id, {
    alarmDescription: props.alarm.description,
    metric: new MathExpression({
      expression: 'failed + timedOut',
      usingMetrics: {
        failed: stateMachine.metricFailed({ period }),
        timedOut: stateMachine.metricTimedOut({ period }),
      },
      period,
    }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  return { stateMachine, failedAlarm };
}

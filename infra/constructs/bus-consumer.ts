import { Duration } from 'aws-cdk-lib';
import { type EventPattern, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Construct } from 'constructs';
import { CrmFunction, type CrmFunctionProps } from './crm-function.ts';
import { FailureQueue } from './failure-queue.ts';

export interface BusConsumerProps {
  bus: IEventBus;
  /** The consumer function (entry, serviceName, description, environment...); 512 MB and 30 s unless given. */
  fn: Omit<CrmFunctionProps, 'memorySize' | 'timeout'> & Partial<Pick<CrmFunctionProps, 'memorySize' | 'timeout'>>;
  eventPattern: EventPattern;
  ruleDescription: string;
  /** What the failure queue holds, e.g. "change events that were not written to the audit trail". */
  failureDescription: string;
  /** Construct ids under `scope` (kept as they were, so a deployed stack's logical ids do not change). */
  ids?: { consumer?: string; rule?: string };
}

export interface BusConsumer {
  consumer: CrmFunction;
  failures: FailureQueue;
  rule: Rule;
}

/**
 * An EventBridge consumer as every one of this stack is built: a rule on the CRM bus targets the function, handler
 * errors are retried by Lambda (twice) and delivery failures by EventBridge (8 times, for a day), and whatever still
 * fails lands in one alarmed queue. Grants are the caller's: each consumer gets exactly the table actions it uses.
 */
export function busConsumer(scope: Construct, props: BusConsumerProps): BusConsumer {
  const failures = new FailureQueue(scope, 'Failures', { description: props.failureDescription });
  const consumer = new CrmFunction(scope, props.ids?.consumer ?? 'Consumer', {
    memorySize: 512,
    timeout: Duration.seconds(30),
    ...props.fn,
  });
  consumer.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(failures.queue) });
  const rule = new Rule(scope, props.ids?.rule ?? 'Rule', {
    eventBus: props.bus,
    description: props.ruleDescription,
    eventPattern: props.eventPattern,
    targets: [
      new LambdaFunction(consumer.function, {
        deadLetterQueue: failures.queue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
      }),
    ],
  });
  return { consumer, failures, rule };
}

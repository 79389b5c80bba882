/**
 * Contracts shared by the local cloud's services. Each service (API, EventBridge, Scheduler, Step Functions, mail)
 * is built from the synthesized CloudFormation template and reaches Lambda functions only through `Invoker`.
 */

/** A CloudFormation resource as it appears in the synthesized template. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnTemplate {
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

/** How a Lambda invocation was requested: sync (RequestResponse) returns the result; async (Event) resolves once accepted. */
export type InvocationType = 'RequestResponse' | 'Event';

/** Invokes a local Lambda function given its ARN, name or logical id, as Lambda's Invoke API would. */
export interface Invoker {
  invoke(functionRef: string, event: unknown, invocationType?: InvocationType): Promise<unknown>;
  /** True when the reference names a function of the template. */
  has(functionRef: string): boolean;
}

/** Starts a Step Functions execution for a state machine ARN (the local Step Functions service implements it). */
export interface ExecutionStarter {
  startExecution(stateMachineArn: string, input: unknown, name?: string): Promise<{ executionArn: string }>;
}

/** Puts events on a local bus (the local EventBridge implements it). */
export interface EventPutter {
  putEvents(
    entries: Array<{
      Source: string;
      DetailType: string;
      Detail: string;
      EventBusName?: string;
      Time?: Date;
      Resources?: string[];
    }>,
  ): Promise<{ failedEntryCount: number; eventIds: string[] }>;
}

/** A running local service; `stop()` closes its ports and timers. */
export interface LocalService {
  readonly name: string;
  /** Base URL for AWS_ENDPOINT_URL_<SERVICE>, when the service speaks an AWS API. */
  readonly endpoint?: string;
  stop(): Promise<void>;
}

import { join } from 'node:path';
import { type CfnResource, type Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root: entries are given relative to it, and esbuild resolves packages from it. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface CrmFunctionProps {
  /** Handler module, relative to the project root, e.g. 'functions/http/contacts.ts'. */
  entry: string;
  /** POWERTOOLS_SERVICE_NAME: how logs, traces and metrics name this function. */
  serviceName: string;
  memorySize: number;
  timeout: Duration;
  /** The function's own configuration (what its readConfig schema asks for). */
  environment?: Record<string, string>;
  description?: string;
  /** Shell commands run after esbuild, e.g. to copy static files next to index.mjs (see NodejsFunction hooks). */
  afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/**
 * One Lambda function as every CRM function is built: Node 24 on arm64, ESM bundle with source maps, X-Ray, its own
 * log group and its own role. The role starts with writing to that log group (an inline policy instead of
 * AWSLambdaBasicExecutionRole, which would allow every log group) and X-Ray; callers grant the rest, least privilege.
 */
export class CrmFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CrmFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // Tracing off, on purpose: Powertools Tracer (the X-Ray SDK) installs async hooks that cost about 12% of a
      // request's CPU in the bench's profile, and 125 KiB per bundle; active tracing without it would only show
      // Lambda's own segments. Logs (request id, tenant, operation) and EMF metrics are the instruments.
      tracing: Tracing.DISABLED,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.description ? { description: props.description } : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'CRM',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node24',
        // Prefer ESM builds of dependencies: smaller bundles, better tree shaking.
        mainFields: ['module', 'main'],
        // CommonJS dependencies bundled into ESM still call require(); give them one.
        banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
        // The Lambda Node.js runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        // Synthesis stays quiet unless esbuild fails.
        logLevel: LogLevel.ERROR,
        ...(props.afterBundling ? { commandHooks: afterBundlingOnly(props.afterBundling) } : {}),
      },
    });

    // A stream source adds dynamodb:ListStreams on '*'.
    this.acknowledgeWildcardResource(
      '*',
      'Only dynamodb:ListStreams (stream consumers), which supports no resource-level permissions; infra tests ' +
        "assert no other action is granted on '*'.",
    );
  }

  /**
   * Acknowledges one cdk-nag IAM5 finding (a wildcard in a resource ARN) on this function's policy only, e.g.
   * `${nagArnOf(cfnTable)}/index/*`. Each wildcard resource needs its own acknowledgement and reason.
   */
  acknowledgeWildcardResource(resource: string, reason: string): void {
    Validations.of(this.role.node.findChild('DefaultPolicy')).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason,
    });
  }

  /**
   * Lets the function keep one-time schedules (`actions` on `schedules`, a group's schedules) and hand them only
   * `schedulerRole`, the role Scheduler assumes to run them.
   */
  grantSchedules(schedules: string, schedulerRole: IRole, actions: string[]): void {
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions, resources: [schedules] }));
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }
}

function afterBundlingOnly(afterBundling: ICommandHooks['afterBundling']): ICommandHooks {
  return { beforeBundling: () => [], beforeInstall: () => [], afterBundling };
}

/**
 * An ARN in the stack's partition, region and account as cdk-nag prints it in finding ids: pseudo parameters as
 * `<AWS::...>` unless the stack's environment made them literal. `rest` is what follows the account, e.g.
 * `schedule/<group>/*`.
 */
export function nagStackArn(stack: Stack, service: string, rest: string): string {
  const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  const partition = Token.isUnresolved(stack.region) ? '<AWS::Partition>' : stack.partition;
  return `arn:${shown(partition, 'Partition')}:${service}:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}:${rest}`;
}

/** How cdk-nag prints a resource's `Fn::GetAtt Arn` in finding ids: `<LogicalId.Arn>`. */
export function nagArnOf(resource: CfnResource): string {
  return `<${Stack.of(resource).getLogicalId(resource)}.Arn>`;
}
